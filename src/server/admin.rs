//! `chinwag admin ...`: the operator's commands. They work on the store directly (the same
//! `CHINWAG_DATA_DIR` or `DATABASE_URL` as the server), so they work while the server runs; the
//! servers read what they change from the store where it matters (a moderator's role is checked in
//! the transaction of each action, a ban is read again before a connection is refused).
//!
//! Every command that changes something writes the audit log, as `chinwag admin`.

use std::fmt::Write as _;
use std::time::Duration;

use super::clock::{now_rfc3339, rfc3339_in};
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
        #[arg(long, default_value = "24h", value_parser = super::config::duration, value_name = "DURATION")]
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
    /// Make a bot: prints its session token. Its name is reserved for good.
    Bot { name: String },
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
    let store = Store::open(store).await?;
    let result = execute(command, &store).await;
    store.close().await;
    result
}

async fn execute(command: AdminCommand, store: &Store) -> Result<String, AdminError> {
    let now = now_rfc3339();
    let mut out = String::new();
    match command {
        AdminCommand::ModeratorLink { url, valid_for } => {
            let (token, digest) = token::generate();
            let expires = rfc3339_in(valid_for);
            store
                .create_moderator_link(&token::hex(&digest), &now, &expires)
                .await?;
            let _ = writeln!(out, "{}/moderator/{token}", url.trim_end_matches('/'));
            let _ = writeln!(
                out,
                "Open it once, in the browser that should moderate (after picking a nickname \
                 there). It works until {expires}."
            );
        }
        AdminCommand::Moderators => {
            let moderators = store.moderators().await?;
            if moderators.is_empty() {
                out.push_str("No moderators. Make one with `chinwag admin moderator-link`.\n");
            }
            for m in moderators {
                let _ = writeln!(out, "{}\t(last seen {})", m.nick, m.last_seen);
            }
        }
        AdminCommand::RevokeModerator { nick: name } => {
            let key = nick::key(name.trim());
            let revoked = store.revoke_moderator(&key, ADMIN, &now).await?;
            if revoked.is_empty() {
                return Err(AdminError::Refused(format!("{name} is not a moderator")));
            }
            let _ = writeln!(out, "{name} is no longer a moderator.");
        }
        AdminCommand::Bans { mutes } => {
            let kind = if mutes {
                SanctionKind::Mute
            } else {
                SanctionKind::Ban
            };
            let list = store.sanctions_in_force(kind, &now).await?;
            if list.is_empty() {
                let _ = writeln!(out, "No {}s in force.", kind.as_str());
            }
            for s in list {
                let _ = writeln!(
                    out,
                    "#{}\t{}\tuntil {}\tby {}\t{}",
                    s.id, s.nick, s.until, s.by, s.reason
                );
            }
        }
        AdminCommand::LiftBan { who } => {
            let who = who.trim().trim_start_matches('#');
            let id = who.parse::<i64>().ok();
            let lifted = store.lift_bans(&nick::key(who), id, ADMIN, &now).await?;
            if lifted.is_empty() {
                return Err(AdminError::Refused(format!("no ban in force for {who}")));
            }
            let _ = writeln!(out, "Lifted {} ban(s) of {who}.", lifted.len());
        }
        AdminCommand::Bot { name } => {
            let name = nick::normalize(&name).map_err(|err| {
                AdminError::Refused(format!("bot name {name:?}: {}", err.message))
            })?;
            let (token, digest) = token::generate();
            match store
                .create_bot(&token::hex(&digest), &name.display, &name.key, &now)
                .await?
            {
                BotOutcome::Created(_) => {
                    let _ = writeln!(out, "{token}");
                    let _ = writeln!(
                        out,
                        "The bot {} connects with {{\"type\":\"hello\",\"session\":\"<this \
                         token>\"}}; keep the token secret. Its name is its own for good.",
                        name.display
                    );
                }
                BotOutcome::NameTaken => {
                    return Err(AdminError::Refused(format!(
                        "the name {} is in use; pick another",
                        name.display
                    )))
                }
            }
        }
        AdminCommand::Audit { limit } => {
            for e in store.audit_log(None, limit).await? {
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    e.at, e.by, e.action, e.target, e.detail
                );
            }
        }
    }
    Ok(out)
}
