//! The connection, driven over in-memory channels with paused time.
