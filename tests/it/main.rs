//! chinwag's integration tests, in one binary (one link of the server instead of one per file).
//!
//! Each module starts real servers on `127.0.0.1:0` (in this process, or the real binary where the
//! process itself is what is tested) and speaks the real protocol over real websockets.

mod common;

mod abuse;
mod accounts;
mod chat_model;
mod cluster;
mod config;
mod crash;
mod edits;
mod files;
mod fuzz;
mod hardening;
mod history;
mod homework;
mod layout;
mod memory;
mod migration;
mod moderation;
mod order;
mod ownership;
mod promises;
mod push;
mod reactions;
mod replies;
mod rooms;
mod search;
mod store;
mod ws;
