//! Client frames as JSON text: [`ClientMsg::encode`].

use crate::protocol::ClientMsg;

/// Writes JSON text by hand, fields in the order given.
struct Writer(String);

impl Writer {
    fn new(kind: &str) -> Self {
        let mut w = Writer(String::with_capacity(64));
        w.0.push_str("{\"type\":");
        w.string(kind);
        w
    }

    fn string(&mut self, s: &str) {
        self.0.push('"');
        for c in s.chars() {
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                '\n' => self.0.push_str("\\n"),
                '\r' => self.0.push_str("\\r"),
                '\t' => self.0.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    let n = c as usize;
                    self.0.push_str("\\u00");
                    self.0.push(HEX[n >> 4] as char);
                    self.0.push(HEX[n & 15] as char);
                }
                c => self.0.push(c),
            }
        }
        self.0.push('"');
    }

    fn key(&mut self, key: &str) {
        self.0.push(',');
        self.string(key);
        self.0.push(':');
    }

    fn str(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        self.string(value);
        self
    }

    fn uint(mut self, key: &str, value: u64) -> Self {
        self.key(key);
        self.0.push_str(&value.to_string());
        self
    }

    fn bool(mut self, key: &str, value: bool) -> Self {
        self.key(key);
        self.0.push_str(if value { "true" } else { "false" });
        self
    }

    /// A flag written only when set (serde's `skip_serializing_if = "is_false"`).
    fn flag(self, key: &str, on: bool) -> Self {
        if on {
            self.bool(key, true)
        } else {
            self
        }
    }

    /// A field written only when present (serde's `skip_serializing_if = "Option::is_none"`).
    /// A list of strings, left out when empty (as serde's `skip_serializing_if`).
    fn strings(mut self, key: &str, values: &[String]) -> Self {
        if values.is_empty() {
            return self;
        }
        self.key(key);
        self.0.push('[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            self.string(value);
        }
        self.0.push(']');
        self
    }

    fn opt_str(self, key: &str, value: Option<&str>) -> Self {
        match value {
            Some(value) => self.str(key, value),
            None => self,
        }
    }

    fn opt_uint(self, key: &str, value: Option<u64>) -> Self {
        match value {
            Some(value) => self.uint(key, value),
            None => self,
        }
    }

    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

impl ClientMsg {
    /// The client's encoder: JSON that [`crate::protocol::Request::parse`] reads back as this
    /// frame, without serde (see the module's doc).
    ///
    /// Long because it is one flat `match` over the client's message kinds, each arm writing that
    /// kind's fields: kept whole, it reads against [`ClientMsg`] one variant at a time.
    pub fn encode(&self) -> String {
        match self {
            ClientMsg::Hello {
                nick,
                session,
                since,
                dm_since,
                version,
                invite,
            } => {
                let mut w = Writer::new("hello")
                    .str("nick", nick)
                    .opt_str("session", session.as_deref());
                if !since.is_empty() {
                    w.key("since");
                    w.0.push('{');
                    for (i, (room, seq)) in since.iter().enumerate() {
                        if i > 0 {
                            w.0.push(',');
                        }
                        w.string(room);
                        w.0.push(':');
                        w.0.push_str(&seq.to_string());
                    }
                    w.0.push('}');
                }
                w.opt_uint("dm_since", *dm_since)
                    .opt_uint("version", version.map(u64::from))
                    .opt_str("invite", invite.as_deref())
                    .finish()
            }
            ClientMsg::Join { room } => Writer::new("join").str("room", room).finish(),
            ClientMsg::Leave { room } => Writer::new("leave").str("room", room).finish(),
            ClientMsg::Say {
                room,
                text,
                client_id,
                action,
                files,
                reply_to,
            } => Writer::new("say")
                .str("room", room)
                .str("text", text)
                .str("client_id", client_id)
                .flag("action", *action)
                .strings("files", files)
                .opt_uint("reply_to", *reply_to)
                .finish(),
            ClientMsg::Edit {
                room,
                seq,
                text,
                client_id,
            } => Writer::new("edit")
                .str("room", room)
                .uint("seq", *seq)
                .str("text", text)
                .opt_str("client_id", client_id.as_deref())
                .finish(),
            ClientMsg::Delete {
                room,
                seq,
                client_id,
            } => Writer::new("delete")
                .str("room", room)
                .uint("seq", *seq)
                .opt_str("client_id", client_id.as_deref())
                .finish(),
            ClientMsg::Nick { nick } => Writer::new("nick").str("nick", nick).finish(),
            ClientMsg::Typing { room, active } => Writer::new("typing")
                .str("room", room)
                .bool("active", *active)
                .finish(),
            ClientMsg::History { room, before } => Writer::new("history")
                .str("room", room)
                .uint("before", *before)
                .finish(),
            ClientMsg::Dm {
                to,
                text,
                client_id,
                action,
                files,
                reply_to,
            } => Writer::new("dm")
                .str("to", to)
                .str("text", text)
                .str("client_id", client_id)
                .flag("action", *action)
                .strings("files", files)
                .opt_uint("reply_to", *reply_to)
                .finish(),
            ClientMsg::Mute {
                nick,
                seconds,
                reason,
            } => sanction("mute", nick, *seconds, reason),
            ClientMsg::Ban {
                nick,
                seconds,
                reason,
            } => sanction("ban", nick, *seconds, reason),
            ClientMsg::Audit { before } => {
                Writer::new("audit").opt_uint("before", *before).finish()
            }
            ClientMsg::Unmute { nick } => Writer::new("unmute").str("nick", nick).finish(),
            ClientMsg::Unban { nick } => Writer::new("unban").str("nick", nick).finish(),
            ClientMsg::Block { nick } => Writer::new("block").str("nick", nick).finish(),
            ClientMsg::Unblock { nick } => Writer::new("unblock").str("nick", nick).finish(),
            ClientMsg::Read { room, seq, dm, id } => Writer::new("read")
                .opt_str("room", room.as_deref())
                .opt_uint("seq", *seq)
                .opt_str("dm", dm.as_deref())
                .opt_uint("id", *id)
                .finish(),
            ClientMsg::DmHistory { before, with } => Writer::new("dm_history")
                .uint("before", *before)
                .opt_str("with", with.as_deref())
                .finish(),
            ClientMsg::React {
                room,
                seq,
                dm,
                id,
                emoji,
                on,
                client_id,
            } => Writer::new("react")
                .opt_str("room", Some(room.as_str()).filter(|room| !room.is_empty()))
                .opt_uint("seq", Some(*seq).filter(|seq| *seq != 0))
                .opt_str("dm", dm.as_deref())
                .opt_uint("id", *id)
                .str("emoji", emoji)
                .bool("on", *on)
                .opt_str("client_id", client_id.as_deref())
                .finish(),
            ClientMsg::Search { q, before } => Writer::new("search")
                .str("q", q)
                .opt_str("before", before.as_deref())
                .finish(),
        }
    }
}

/// A `mute` or a `ban`.
fn sanction(kind: &str, nick: &str, seconds: u64, reason: &str) -> String {
    Writer::new(kind)
        .str("nick", nick)
        .uint("seconds", seconds)
        .opt_str("reason", Some(reason).filter(|r| !r.is_empty()))
        .finish()
}
