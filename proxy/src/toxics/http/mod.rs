//! The HTTP/1.1 toxics (`http_status`, `http_delay`, `http_drop_response`; not in Toxiproxy):
//! faults at the application layer, per request, on keep-alive connections.
//!
//! They are not [`super::ToxicPipe`]s: one of them must see both directions of a connection
//! (requests from the client, responses from the server) and write a response of its own to
//! the client. So a connection with at least one HTTP toxic runs one [`HttpLayer`] at its
//! socket edges, outside the chains:
//!
//! ```text
//!   client ─read─▶ [layer: requests]  ─▶ upstream chain   ─▶ server
//!   client ◀─write─ downstream chain ◀─ [layer: responses] ◀─read─ server
//!                        ▲ synthesized answers enter here, in request order
//! ```
//!
//! * **Framing** (`framing.rs`): heads parsed with `httparse`; bodies by `Content-Length`,
//!   chunked transfer-encoding (requests and responses), no body (`HEAD`, 1xx, 204, 304), or
//!   the close; pipelined requests each get a slot, answered in order.
//! * **Per request**, in the toxics' order: every matching `http_delay` that wins its roll
//!   adds its latency to the response (counted `delayed`); the first matching `http_status`
//!   or `http_drop_response` that wins its roll decides: answered without forwarding (the
//!   request's body is read and discarded; the answer has `Content-Length`, so the connection
//!   stays usable; counted `answered`), or forwarded and its response dropped, the client
//!   connection closed (counted `dropped` when the response arrives). Toxicity is rolled per
//!   matching request with the connection's own seeded stream (`rng::http_rng`).
//! * **Never corrupt**: bytes the layer cannot frame (not HTTP/1.x, a head over 64 KiB, an
//!   invalid `Content-Length` or chunk), and everything after `CONNECT`, an `Upgrade` request
//!   or a `101`, pass on unchanged; the connection's HTTP toxics then stop acting on it. An
//!   answer still owed then (behind pipelined requests) closes the client connection instead.
//!   `Connection: close` (and HTTP/1.0 without keep-alive) requests that are answered get
//!   `connection: close` and the close; so do answered `Expect: 100-continue` requests.
//! * **Live changes**: the layer is made when the first HTTP toxic reaches a connection and
//!   dropped (back to the plain fast path) when none is left and no request is in flight. A
//!   layer made mid-connection assumes the client is between requests (a keep-alive client
//!   waiting for nothing); if it is not, the bytes do not frame and pass through. Removing an
//!   `http_delay` releases what it holds; removing an `http_drop_response` lets the responses
//!   it would have dropped through.
//! * **Direction**: added with `"stream": "downstream"` (the direction that carries the
//!   responses); `upstream` is rejected with a 400.

mod framing;
mod layer;

pub(crate) use layer::{Emitted, HttpLayer};
