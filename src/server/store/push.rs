//! Web Push in the store: the server's VAPID key pair and the devices' push subscriptions.
//!
//! The key pair is made once, by whichever server starts first on a store, and read by every
//! server after (an insert that does nothing when the row is there, then a read), so a cluster
//! signs every push with the one key its browsers subscribed with.
//!
//! A subscription belongs to one session, that is one device, of one person: the browser's
//! `endpoint` names it, and subscribing again (the browser renewed it, or another person signed
//! in on the device) replaces it. A person keeps at most [`MAX_PER_PERSON`] (the newest); one whose
//! session ends goes with it (signed out, the person deleted: [`forget_ended`]; expired: the sweep
//! of sessions, `People::sweep_people`), and is never read back meanwhile; one the push service
//! says is gone is forgotten at once.

use sqlx::Row;

use super::{Store, StoreError};

/// How many subscriptions (devices) a person keeps at most: the newest.
pub const MAX_PER_PERSON: i64 = 20;

/// The server's VAPID key pair: the P-256 private scalar (32 bytes) and the public key
/// (65 bytes, uncompressed), each in unpadded base64url as browsers take them.
#[derive(Clone, PartialEq, Eq)]
pub struct VapidKeys {
    pub private: String,
    pub public: String,
}

/// Never the private key: the state that holds it is printed in logs.
impl std::fmt::Debug for VapidKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKeys")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// A device's push subscription, as the browser's `PushSubscription` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSubscription {
    pub endpoint: String,
    /// The browser's P-256 public key, unpadded base64url.
    pub p256dh: String,
    /// The browser's authentication secret, unpadded base64url.
    pub auth: String,
}

/// Forgets person `person`'s subscriptions whose sessions are gone, in the transaction that ended
/// them: a device that signs out is not notified again.
pub(super) async fn forget_ended(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    person: i64,
) -> Result<(), StoreError> {
    sqlx::query(&store.sql(
        "DELETE FROM push_subscriptions WHERE person_id = $1 AND NOT EXISTS \
         (SELECT 1 FROM sessions s WHERE s.id = push_subscriptions.session_id)",
    ))
    .bind(person)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Web Push, as a view of the store ([`Store::push`]).
#[derive(Debug, Clone, Copy)]
pub struct Push<'a>(pub(super) &'a Store);

impl Push<'_> {
    /// The store's VAPID key pair; `made` is kept if there is none yet (the first server to
    /// start), and whatever is there is returned.
    pub async fn vapid_keys(self, made: VapidKeys, at: &str) -> Result<VapidKeys, StoreError> {
        sqlx::query(&self.0.sql(
            "INSERT INTO push_keys (id, private_key, public_key, created_at) \
             VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING",
        ))
        .bind(&made.private)
        .bind(&made.public)
        .bind(at)
        .execute(&self.0.pool)
        .await?;
        let row = sqlx::query("SELECT private_key, public_key FROM push_keys WHERE id = 1")
            .fetch_one(&self.0.pool)
            .await?;
        Ok(VapidKeys {
            private: row.try_get(0)?,
            public: row.try_get(1)?,
        })
    }

    /// Keeps `subscription` for session `session` of person `person` (replacing what its
    /// endpoint had), and only the newest [`MAX_PER_PERSON`] of theirs.
    pub async fn subscribe(
        self,
        (person, session): (i64, i64),
        subscription: &PushSubscription,
        at: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.0.begin_write().await?;
        sqlx::query(&self.0.sql(
            "INSERT INTO push_subscriptions (endpoint, person_id, session_id, p256dh, auth, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (endpoint) DO UPDATE SET \
             person_id = $2, session_id = $3, p256dh = $4, auth = $5, created_at = $6",
        ))
        .bind(&subscription.endpoint)
        .bind(person)
        .bind(session)
        .bind(&subscription.p256dh)
        .bind(&subscription.auth)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&self.0.sql(
            "DELETE FROM push_subscriptions WHERE person_id = $1 AND endpoint NOT IN \
             (SELECT endpoint FROM push_subscriptions WHERE person_id = $1 \
              ORDER BY created_at DESC, endpoint LIMIT $2)",
        ))
        .bind(person)
        .bind(MAX_PER_PERSON)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets person `person`'s subscription at `endpoint` (their device turned notifications
    /// off). Whether there was one.
    pub async fn unsubscribe(self, person: i64, endpoint: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            &self
                .0
                .sql("DELETE FROM push_subscriptions WHERE person_id = $1 AND endpoint = $2"),
        )
        .bind(person)
        .bind(endpoint)
        .execute(&self.0.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Forgets the subscription at `endpoint`, whoever's: the push service said it is gone.
    pub async fn forget(self, endpoint: &str) -> Result<(), StoreError> {
        sqlx::query(
            &self
                .0
                .sql("DELETE FROM push_subscriptions WHERE endpoint = $1"),
        )
        .bind(endpoint)
        .execute(&self.0.pool)
        .await?;
        Ok(())
    }

    /// Person `person`'s subscriptions whose sessions still exist, newest first.
    pub async fn subscriptions_of(self, person: i64) -> Result<Vec<PushSubscription>, StoreError> {
        let rows = sqlx::query(&self.0.sql(
            "SELECT p.endpoint, p.p256dh, p.auth FROM push_subscriptions p \
             JOIN sessions s ON s.id = p.session_id AND s.person_id = p.person_id \
             WHERE p.person_id = $1 ORDER BY p.created_at DESC, p.endpoint",
        ))
        .bind(person)
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PushSubscription {
                    endpoint: row.try_get(0)?,
                    p256dh: row.try_get(1)?,
                    auth: row.try_get(2)?,
                })
            })
            .collect()
    }
}
