//! Several servers as one: what a server does with what the others say on the bus, and how it
//! makes up for what the bus lost.
//!
//! The store orders and keeps everything; the bus (`server::bus`) only makes it fast. So every
//! server, besides relaying what arrives to its hub:
//! - heartbeats every [`ClusterConfig::heartbeat_every`], and hears its own heartbeat come back:
//!   while it does not, its own link is not working and it changes nothing about the others (no
//!   one is announced offline because *this* server went deaf);
//! - declares another server gone after [`ClusterConfig::node_timeout`] of silence (or the leave
//!   grace after it said goodbye); that server's people go offline, once, unless they reconnected
//!   elsewhere meanwhile;
//! - asks for a snapshot of a server's people when it missed one of its presence changes;
//! - checks positions ([`repair`]): every room listened to here against the store's last `seq`,
//!   and the private messages committed since the last check, every
//!   [`ClusterConfig::check_every`] (every second while the link is down, and at once when it comes
//!   back or a server is gone): whatever the bus lost is read from the store;
//! - re-reads a session from the store when another server says it changed.
//!
//! One task runs all of this, so its state needs no lock; anything that reads the store runs in
//! tasks of its own and never holds it up.

pub mod nodes;
pub mod repair;

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tungstenite::Utf8Bytes;

use super::bus::redis::Inbound;
use super::bus::{now_ms, Bus, Event, NodeId, Received};
use super::hub::Hub;
use super::metrics::Metrics;
use super::session::{PersonId, SessionId, Sessions};
use super::store::Store;
use nodes::Nodes;
use repair::Repairs;

/// Tunables of the cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// How long another server may stay silent before it is declared gone.
    pub node_timeout: Duration,
    /// How often this server says it is alive.
    pub heartbeat_every: Duration,
    /// How often positions are checked while the link is up.
    pub check_every: Duration,
    /// How long after a goodbye a server's people are announced gone.
    pub leave_grace: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            node_timeout: Duration::from_secs(5),
            heartbeat_every: Duration::from_secs(1),
            check_every: Duration::from_secs(5),
            leave_grace: Duration::from_secs(3),
        }
    }
}

/// How long this server's own heartbeat may take to come back before the link counts as broken.
const ECHO_TIMEOUT: Duration = Duration::from_secs(3);

/// People per snapshot part (a part is one bus message: tens of KB at most).
const SNAPSHOT_PART: usize = 500;

/// Everything the cluster's task works with.
pub struct Cluster {
    pub hub: Hub,
    pub sessions: Sessions,
    pub store: Store,
    pub metrics: Metrics,
    pub config: ClusterConfig,
}

impl Cluster {
    /// Runs the cluster's task until shutdown; then tells the others this server is leaving.
    pub fn start(
        self,
        inbound: mpsc::Receiver<Inbound>,
        shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run(inbound, shutdown))
    }

    async fn run(self, mut inbound: mpsc::Receiver<Inbound>, mut shutdown: watch::Receiver<bool>) {
        let bus = self.hub.bus().clone();
        let repairs = Repairs::start(
            self.hub.clone(),
            self.sessions.clone(),
            self.store.clone(),
            self.metrics.clone(),
        )
        .await;
        let mut state = State {
            nodes: Nodes::default(),
            link_up: false,
            last_echo: Instant::now(),
            last_check: Instant::now(),
        };
        let mut tick = tokio::time::interval(self.config.heartbeat_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                item = inbound.recv() => {
                    let Some(item) = item else { break };
                    self.on_inbound(&bus, &repairs, &mut state, item);
                }
                _ = tick.tick() => self.on_tick(&bus, &repairs, &mut state),
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
        bus.publish(&Event::Down, None);
    }

    fn on_inbound(&self, bus: &Bus, repairs: &Repairs, state: &mut State, item: Inbound) {
        let now = Instant::now();
        match item {
            Inbound::Up => {
                state.link_up = true;
                state.last_echo = now;
                state.nodes.link_restored(now);
                // Whatever was published while the link was down is lost: ask everyone for their
                // people, and read everything else from the store.
                bus.publish(&Event::Sync { node: None }, None);
                repairs.check_now();
                repairs.refresh_all();
            }
            Inbound::Down => state.link_up = false,
            Inbound::Overflow => {
                tracing::warn!("bus events were lost on the way in; repairing from the store");
                bus.publish(&Event::Sync { node: None }, None);
                repairs.check_now();
                repairs.refresh_all();
            }
            Inbound::Event(received) => self.on_event(bus, repairs, state, *received, now),
        }
    }

    fn on_event(
        &self,
        bus: &Bus,
        repairs: &Repairs,
        state: &mut State,
        received: Received,
        now: Instant,
    ) {
        let Received { envelope, frame } = received;
        let node = envelope.n;
        if node == bus.node() {
            if matches!(envelope.e, Event::Heartbeat { .. }) {
                state.last_echo = now;
            }
            return;
        }
        let lag = now_ms().saturating_sub(envelope.at);
        self.metrics.bus_lag(lag as f64 / 1000.0);
        if state.nodes.heard(node, now) {
            bus.publish(&Event::Sync { node: Some(node) }, None);
        }
        match envelope.e {
            event @ (Event::Message { .. }
            | Event::Frame { .. }
            | Event::Dm { .. }
            | Event::Personal { .. }) => {
                if let Some(frame) = frame {
                    self.deliver(event, frame);
                }
            }
            event
            @ (Event::Session { .. } | Event::SignedOut { .. } | Event::Sanctioned { .. }) => {
                self.on_person(repairs, event);
            }
            event @ (Event::Online { .. } | Event::Offline { .. } | Event::Snapshot { .. }) => {
                self.on_people(bus, state, node, event, now);
            }
            Event::Heartbeat { v } => {
                if state.nodes.heartbeat(node, v, now) {
                    bus.publish(&Event::Sync { node: Some(node) }, None);
                }
            }
            Event::Sync { node: asked } => {
                if asked.is_none_or(|asked| asked == bus.node()) {
                    self.hub.ingress().publish_people(SNAPSHOT_PART);
                }
            }
            Event::Down => state.nodes.leaving(node, now, self.config.leave_grace),
        }
    }

    /// Hands what another server sent its clients to the hub, for the clients here.
    fn deliver(&self, event: Event, frame: Utf8Bytes) {
        match event {
            Event::Message { room, seq } => self.hub.ingress().message(&room, seq, frame),
            Event::Frame { room } => self.hub.ingress().frame(&room, frame),
            Event::Dm {
                id,
                from,
                to,
                prev_from,
                prev_to,
            } => self.hub.ingress().direct(
                id,
                (PersonId::from_store(from), prev_from),
                (PersonId::from_store(to), prev_to),
                &frame,
            ),
            Event::Personal { id } => {
                self.hub
                    .presence()
                    .tell_person(PersonId::from_store(id), None, frame);
            }
            // `on_event` sends only the events that carry a frame here.
            _ => {}
        }
    }

    /// Another server changed a person's sessions: what is cached of them here follows.
    fn on_person(&self, repairs: &Repairs, event: Event) {
        match event {
            Event::Session { id } => repairs.refresh(PersonId::from_store(id)),
            Event::SignedOut { id, sessions } => {
                let id = PersonId::from_store(id);
                let which: Vec<SessionId> =
                    sessions.into_iter().map(SessionId::from_store).collect();
                self.sessions.cache().forget_sessions(id, &which);
                self.hub.presence().end_signed_out(id, &which);
            }
            Event::Sanctioned {
                id,
                ban,
                until,
                reason,
            } => {
                let id = PersonId::from_store(id);
                self.sessions.cache().sanctioned(id, ban, &until);
                if ban {
                    self.hub.presence().close_session(id, &until, &reason);
                }
            }
            // `on_event` sends only the events about a person here.
            _ => {}
        }
    }

    /// Who is online on server `node` changed; if this server missed a change before, it asks
    /// for a snapshot.
    fn on_people(&self, bus: &Bus, state: &mut State, node: NodeId, event: Event, now: Instant) {
        match event {
            Event::Online { v, person } => {
                let heard = state.nodes.change(node, v, now);
                if heard.ask {
                    bus.publish(&Event::Sync { node: Some(node) }, None);
                }
                self.hub.ingress().online(node, &person);
            }
            Event::Offline { v, id } => {
                let heard = state.nodes.change(node, v, now);
                if heard.ask {
                    bus.publish(&Event::Sync { node: Some(node) }, None);
                }
                self.hub.ingress().offline(node, id);
            }
            Event::Snapshot {
                v,
                part,
                parts,
                people,
            } => {
                if let Some(all) = state.nodes.snapshot_part(node, v, (part, parts), people) {
                    self.hub.ingress().snapshot(node, &all);
                }
            }
            // `on_event` sends only these three here.
            _ => {}
        }
    }

    fn on_tick(&self, bus: &Bus, repairs: &Repairs, state: &mut State) {
        let now = Instant::now();
        bus.publish(
            &Event::Heartbeat {
                v: self.hub.ingress().presence_version(),
            },
            None,
        );
        let healthy =
            state.link_up && now.saturating_duration_since(state.last_echo) < ECHO_TIMEOUT;
        if state.link_up && !healthy {
            tracing::warn!("this server's heartbeats stopped coming back; reconnecting the bus");
            state.link_up = false;
            bus.reconnect();
        }
        let gone = state.nodes.gone(now, self.config.node_timeout, healthy);
        for node in &gone {
            tracing::info!(
                node,
                "a server is gone; its people leave, its messages are checked"
            );
            self.hub.ingress().gone(*node);
        }
        self.metrics.cluster_nodes(state.nodes.len() + 1);
        let every = if healthy {
            self.config.check_every
        } else {
            self.config.heartbeat_every
        };
        if !gone.is_empty() || now.saturating_duration_since(state.last_check) >= every {
            state.last_check = now;
            repairs.check_now();
        }
    }
}

/// The cluster task's own state.
struct State {
    nodes: Nodes,
    link_up: bool,
    /// When this server's own heartbeat last came back.
    last_echo: Instant,
    last_check: Instant,
}
