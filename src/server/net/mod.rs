//! The server's TCP side, beneath HTTP and websockets alike: every connection's deadlines and caps
//! ([`accept`]), and who the client is behind a trusted reverse proxy ([`proxy`]). `http` gives it
//! the routers to serve; a websocket keeps its connection's slot and activity from here.

pub mod accept;
pub mod proxy;
