//! `chinwag admin ...`: the operator's commands. They work on the store directly (the same
//! `CHINWAG_DATA_DIR` or `DATABASE_URL` as the server), so they work while the server runs; the
//! servers read what they change from the store where it matters (a moderator's role is checked in
//! the transaction of each action, a ban is read again before a connection is refused).
//!
//! Every command that changes something writes the audit log, as `chinwag admin`. What running
//! servers must act on at once (a deleted room, a lifted mute or ban, a bot's old token) is also
//! written as an admin event, which every server reads within a few seconds
//! (`server::maintenance`).
//!
//! Everything printed from the store (names, reasons, details) is escaped: a control or bidi
//! character shows as `\u{...}`, so nothing stored can forge a line or rewrite the terminal.

use std::fmt::Write as _;
use std::time::Duration;

use super::clock::{now_rfc3339, rfc3339_ago, rfc3339_in};
use super::session::{nick, token};
use super::store::{BotOutcome, SanctionKind, Store, StoreConfig, StoreError};

/// Who the audit log says did what a command did.
const ADMIN: &str = "chinwag admin";

/// The operator's commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AdminCommand {
    /// Print a one-time link that makes the browser session opening it a moderator.
    ModeratorLink {
        /// The chat's public address, as people open it
        #[arg(
            long,
            env = "CHINWAG_PUBLIC_URL",
            default_value = "http://127.0.0.1:3000",
            value_name = "URL"
        )]
        url: String,
        /// How long the link can be used
        #[arg(long, default_value = "24h", value_parser = super::clock::duration, value_name = "DURATION")]
        valid_for: Duration,
    },
    /// Print an invitation link: with `CHINWAG_SIGNUP=invite`, only people who open one may pick
    /// a name here.
    Invite {
        /// The chat's public address, as people open it
        #[arg(
            long,
            env = "CHINWAG_PUBLIC_URL",
            default_value = "http://127.0.0.1:3000",
            value_name = "URL"
        )]
        url: String,
        /// How many people it lets in
        #[arg(long, default_value = "1", value_parser = clap::value_parser!(u32).range(1..=100_000))]
        uses: u32,
        /// How long it can be used
        #[arg(long, default_value = "7d", value_parser = super::clock::duration, value_name = "DURATION")]
        valid_for: Duration,
    },
    /// List the moderators.
    Moderators,
    /// Take the moderator role from NICK.
    RevokeModerator { nick: String },
    /// List the bans in force (and the mutes, with --mutes).
    Bans {
        /// List mutes instead
        #[arg(long)]
        mutes: bool,
    },
    /// Lift the ban on NICK (or the ban with that number, as `bans` lists it).
    LiftBan { who: String },
    /// Lift the mute on NICK (or the mute with that number, as `bans --mutes` lists it).
    LiftMute { who: String },
    /// List the rooms: members, last activity, the address that created them.
    Rooms {
        /// Only rooms nobody is in
        #[arg(long)]
        empty: bool,
    },
    /// Delete rooms, with their messages (their members are told they left).
    DeleteRoom {
        #[arg(required = true)]
        rooms: Vec<String>,
    },
    /// Make a bot: prints its session token. Its name is reserved for good.
    Bot { name: String },
    /// Give the bot NAME a new token (printed); the old one stops working at once.
    BotToken { name: String },
    /// Delete the bot NAME: its token stops working, its name is free again (its messages stay).
    RevokeBot { name: String },
    /// Print the moderation audit log, newest first.
    Audit {
        #[arg(long, default_value = "50")]
        limit: u32,
    },
}

/// A command that could not be done, in one line.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Refused(String),
}

/// Runs one command against the store; returns what to print.
pub async fn run(command: AdminCommand, store: &StoreConfig) -> Result<String, AdminError> {
    let store = Store::open_patiently(store).await?;
    let result = execute(command, &store).await;
    store.close().await;
    result
}

/// One function per command; each returns what to print. `now` is read once, so that everything
/// one command writes carries the same time.
async fn execute(command: AdminCommand, store: &Store) -> Result<String, AdminError> {
    let now = now_rfc3339();
    let now = now.as_str();
    match command {
        AdminCommand::ModeratorLink { url, valid_for } => {
            moderator_link(store, &url, valid_for, now).await
        }
        AdminCommand::Invite {
            url,
            uses,
            valid_for,
        } => invite(store, &url, uses, valid_for, now).await,
        AdminCommand::Moderators => moderators(store).await,
        AdminCommand::RevokeModerator { nick: name } => revoke_moderator(store, &name, now).await,
        AdminCommand::Bans { mutes } => bans(store, mutes, now).await,
        AdminCommand::LiftBan { who } => lift(store, SanctionKind::Ban, &who, now).await,
        AdminCommand::LiftMute { who } => lift(store, SanctionKind::Mute, &who, now).await,
        AdminCommand::Rooms { empty } => rooms(store, empty).await,
        AdminCommand::DeleteRoom { rooms } => delete_rooms(store, rooms, now).await,
        AdminCommand::Bot { name } => bot(store, &name, now).await,
        AdminCommand::BotToken { name } => bot_token(store, &name, now).await,
        AdminCommand::RevokeBot { name } => revoke_bot(store, &name, now).await,
        AdminCommand::Audit { limit } => audit(store, limit).await,
    }
}

async fn moderator_link(
    store: &Store,
    url: &str,
    valid_for: Duration,
    now: &str,
) -> Result<String, AdminError> {
    let (token, digest) = token::generate();
    let expires = rfc3339_in(valid_for);
    store
        .moderation()
        .create_moderator_link(&token::hex(&digest), now, &expires)
        .await?;
    let mut out = String::new();
    let _ = writeln!(out, "{}/moderator/{token}", url.trim_end_matches('/'));
    let _ = writeln!(
        out,
        "Open it once, in the browser that should moderate (after picking a nickname \
         there). It works until {expires}."
    );
    Ok(out)
}

async fn invite(
    store: &Store,
    url: &str,
    uses: u32,
    valid_for: Duration,
    now: &str,
) -> Result<String, AdminError> {
    let (token, digest) = token::generate();
    let expires = rfc3339_in(valid_for);
    store
        .accounts()
        .create_invite(&token::hex(&digest), ADMIN, uses, (now, &expires))
        .await?;
    let mut out = String::new();
    // The link last, where scripts look for it.
    let _ = writeln!(
        out,
        "This link lets {uses} new {} pick a name here, until {expires}:",
        if uses == 1 { "person" } else { "people" }
    );
    let _ = writeln!(out, "{}/invite/{token}", url.trim_end_matches('/'));
    Ok(out)
}

async fn moderators(store: &Store) -> Result<String, AdminError> {
    let moderators = store.moderation().moderators().await?;
    let mut out = String::new();
    if moderators.is_empty() {
        out.push_str("No moderators. Make one with `chinwag admin moderator-link`.\n");
    }
    for m in moderators {
        let _ = writeln!(
            out,
            "{}\t(last seen {})",
            shown(&m.nick),
            shown(&m.last_seen)
        );
    }
    Ok(out)
}

async fn revoke_moderator(store: &Store, name: &str, now: &str) -> Result<String, AdminError> {
    let key = nick::key(name.trim());
    let revoked = store
        .moderation()
        .revoke_moderator(&key, ADMIN, now)
        .await?;
    if revoked.is_empty() {
        return Err(AdminError::Refused(format!("{name} is not a moderator")));
    }
    Ok(format!("{name} is no longer a moderator.\n"))
}

async fn bans(store: &Store, mutes: bool, now: &str) -> Result<String, AdminError> {
    let kind = if mutes {
        SanctionKind::Mute
    } else {
        SanctionKind::Ban
    };
    let list = store.moderation().sanctions_in_force(kind, now).await?;
    let mut out = String::new();
    if list.is_empty() {
        let _ = writeln!(out, "No {}s in force.", kind.as_str());
    }
    for s in list {
        let _ = writeln!(
            out,
            "#{}\t{}\tuntil {}\tby {}\t{}",
            s.id,
            shown(&s.nick),
            shown(&s.until),
            shown(&s.by),
            shown(&s.reason)
        );
    }
    Ok(out)
}

async fn rooms(store: &Store, empty: bool) -> Result<String, AdminError> {
    let rooms = store.rooms().all().await?;
    let rooms: Vec<_> = rooms
        .into_iter()
        .filter(|r| !empty || r.members == 0)
        .collect();
    let mut out = String::new();
    if rooms.is_empty() {
        out.push_str("No rooms besides general.\n");
    }
    for r in rooms {
        let _ = writeln!(
            out,
            "{}\t{} member(s)\t{} entries\tlast active {}\tcreated from {}",
            r.name,
            r.members,
            r.last_seq,
            shown(&r.last_active),
            r.created_from.as_deref().map_or("-".to_owned(), shown)
        );
    }
    Ok(out)
}

async fn delete_rooms(store: &Store, rooms: Vec<String>, now: &str) -> Result<String, AdminError> {
    let mut out = String::new();
    for room in rooms {
        let room = room.trim().trim_start_matches('#').to_owned();
        if !store.rooms().delete_room(&room).await? {
            let _ = writeln!(out, "No room {}.", shown(&room));
            continue;
        }
        event(store, "room_deleted", &room, "", now).await?;
        let _ = writeln!(out, "Deleted #{room}, with its messages.");
    }
    Ok(out)
}

async fn bot(store: &Store, name: &str, now: &str) -> Result<String, AdminError> {
    let name = nick::normalize(name)
        .map_err(|err| AdminError::Refused(format!("bot name {name:?}: {}", err.message)))?;
    let (token, digest) = token::generate();
    match store
        .moderation()
        .create_bot(&token::hex(&digest), &name.display, &name.key, now)
        .await?
    {
        BotOutcome::Created(_) => Ok(format!(
            "{token}\nThe bot {} connects with {{\"type\":\"hello\",\"session\":\"<this \
             token>\"}}; keep the token secret. Its name is its own for good.\n",
            name.display
        )),
        BotOutcome::NameTaken => Err(AdminError::Refused(format!(
            "the name {} is in use; pick another",
            name.display
        ))),
    }
}

async fn bot_token(store: &Store, name: &str, now: &str) -> Result<String, AdminError> {
    let (token, digest) = token::generate();
    let key = nick::key(name.trim());
    let Some((id, old)) = store
        .moderation()
        .rotate_bot_token(&key, &token::hex(&digest), now)
        .await?
    else {
        return Err(AdminError::Refused(format!(
            "no bot is called {}",
            shown(name)
        )));
    };
    let old: Vec<String> = old.iter().map(i64::to_string).collect();
    event(
        store,
        "sessions_revoked",
        &id.to_string(),
        &old.join(","),
        now,
    )
    .await?;
    Ok(format!(
        "{token}\nThe bot's old token no longer works; its connections are closed.\n"
    ))
}

async fn revoke_bot(store: &Store, name: &str, now: &str) -> Result<String, AdminError> {
    let key = nick::key(name.trim());
    let Some(id) = store.moderation().bot_named(&key).await? else {
        return Err(AdminError::Refused(format!(
            "no bot is called {}",
            shown(name)
        )));
    };
    store.accounts().delete_person(id, true, now).await?;
    event(store, "person_deleted", &id.to_string(), "", now).await?;
    Ok(format!(
        "Deleted the bot {}; its token no longer works.\n",
        shown(name)
    ))
}

async fn audit(store: &Store, limit: u32) -> Result<String, AdminError> {
    let mut out = String::new();
    for e in store.moderation().audit_log(None, limit).await? {
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            shown(&e.at),
            shown(&e.by),
            shown(&e.action),
            shown(&e.target),
            shown(&e.detail)
        );
    }
    Ok(out)
}

/// Lifts the mutes or bans of `who` (a name, or a number as `bans` lists them) and tells the
/// running servers.
async fn lift(
    store: &Store,
    kind: SanctionKind,
    who: &str,
    now: &str,
) -> Result<String, AdminError> {
    let who = who.trim().trim_start_matches('#');
    let id = who.parse::<i64>().ok();
    let lifted = store
        .moderation()
        .lift_sanctions(kind, &nick::key(who), id, ADMIN, now)
        .await?;
    if lifted.is_empty() {
        let hint = match kind {
            SanctionKind::Ban => " (a mute is lifted with lift-mute)",
            SanctionKind::Mute => " (a ban is lifted with lift-ban)",
        };
        return Err(AdminError::Refused(format!(
            "no {} in force for {}{hint}",
            kind.as_str(),
            shown(who)
        )));
    }
    let event_kind = format!("{}_lifted", kind.as_str());
    for person in &lifted {
        event(
            store,
            &event_kind,
            &person.person_id.to_string(),
            &person.nick,
            now,
        )
        .await?;
    }
    let names: Vec<String> = lifted.iter().map(|p| shown(&p.nick)).collect();
    Ok(format!(
        "Lifted the {} of {}.\n",
        kind.as_str(),
        names.join(", ")
    ))
}

/// How long admin events are kept: every running server reads them within seconds.
pub const EVENTS_KEPT: Duration = Duration::from_secs(24 * 3600);

async fn event(
    store: &Store,
    kind: &str,
    subject: &str,
    detail: &str,
    now: &str,
) -> Result<(), AdminError> {
    store
        .moderation()
        .admin_event(kind, subject, detail, now, &rfc3339_ago(EVENTS_KEPT))
        .await?;
    Ok(())
}

/// Text from the store as it is printed: control and bidi characters escaped as `\u{...}`
/// (a stored line break cannot forge a line, an escape sequence cannot reach the terminal).
pub fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control()
            || crate::protocol::is_bidi_control(c)
            || matches!(c, '\u{2028}' | '\u{2029}')
        {
            out.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn what_is_printed_cannot_forge_lines_or_reach_the_terminal() {
        assert_eq!(
            shown("spam\n2026-01-01\tmod\tban"),
            "spam\\u{000A}2026-01-01\\u{0009}mod\\u{0009}ban"
        );
        assert_eq!(shown("\u{1b}[2J\u{7}"), "\\u{001B}[2J\\u{0007}");
        assert_eq!(shown("a\u{202E}b"), "a\\u{202E}b");
        assert_eq!(shown("Zoë 🦀"), "Zoë 🦀");
    }
}
