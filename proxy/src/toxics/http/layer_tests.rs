//! The layer on hand-fed bytes with a fake clock: order, answers, delays, drops, removal.

use super::*;
use crate::rng::http_rng;
use crate::spec::ToxicConfig;
use crate::Toxic;

fn entry(id: u64, toxic: Toxic) -> ChainEntry {
    let config: ToxicConfig = toxic.named(format!("t{id}")).into_config();
    ChainEntry {
        id,
        version: id,
        config,
    }
}

struct Rig {
    layer: HttpLayer,
    now: Instant,
    counters: Arc<Counters>,
    to_server: Vec<u8>,
    to_client: Vec<u8>,
    client_eof: bool,
    close: bool,
}

impl Rig {
    fn new(toxics: Vec<Toxic>) -> Rig {
        let counters = Arc::new(Counters::default());
        let mut rig = Rig {
            layer: HttpLayer::new(http_rng(1, 0), counters.clone()),
            now: Instant::now(),
            counters,
            to_server: Vec::new(),
            to_client: Vec::new(),
            client_eof: false,
            close: false,
        };
        rig.apply(toxics);
        rig
    }
    fn apply(&mut self, toxics: Vec<Toxic>) {
        let entries: Vec<ChainEntry> = toxics
            .into_iter()
            .enumerate()
            .map(|(i, t)| entry(i as u64 + 1, t))
            .collect();
        let mut out = Emitted::default();
        self.layer.apply(&entries, self.now, &mut out);
        self.take(out);
    }
    fn take(&mut self, out: Emitted) {
        for item in out.to_server {
            if let Item::Data(b) = item {
                self.to_server.extend_from_slice(&b);
            }
        }
        for item in out.to_client {
            match item {
                Item::Data(b) => self.to_client.extend_from_slice(&b),
                Item::Eof => self.client_eof = true,
            }
        }
        self.close |= out.close;
    }
    fn client(&mut self, bytes: &[u8]) {
        let mut out = Emitted::default();
        self.layer.on_request(
            Item::Data(Bytes::copy_from_slice(bytes)),
            self.now,
            &mut out,
        );
        self.take(out);
    }
    fn server(&mut self, bytes: &[u8]) {
        let mut out = Emitted::default();
        self.layer.on_response(
            Item::Data(Bytes::copy_from_slice(bytes)),
            self.now,
            &mut out,
        );
        self.take(out);
    }
    fn advance(&mut self, d: Duration) {
        self.now += d;
        let mut out = Emitted::default();
        self.layer.pump(self.now, &mut out);
        self.take(out);
    }
    fn client_text(&self) -> String {
        String::from_utf8_lossy(&self.to_client).into_owned()
    }
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

#[test]
fn an_answer_waits_behind_the_response_to_an_earlier_request() {
    let mut rig = Rig::new(vec![Toxic::http_status(503).body("no").path_prefix("/x")]);
    rig.client(b"GET /a HTTP/1.1\r\n\r\nPOST /x HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc");
    assert_eq!(
        rig.to_server, b"GET /a HTTP/1.1\r\n\r\n",
        "the answered request is not forwarded"
    );
    assert!(
        rig.to_client.is_empty(),
        "the answer must not overtake /a's response"
    );
    rig.server(OK);
    assert_eq!(
        rig.client_text(),
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok\
         HTTP/1.1 503 Service Unavailable\r\ncontent-length: 2\r\ncontent-type: text/plain; charset=utf-8\r\n\r\nno"
    );
    assert!(!rig.close && !rig.client_eof);
    let counted = rig
        .counters
        .http_actions
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default();
    assert_eq!(counted.get(&("t1".to_string(), "answered")), Some(&1));
    assert_eq!(
        rig.counters
            .http_requests
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
}

#[test]
fn answers_to_head_and_close_requests_follow_http() {
    let mut rig = Rig::new(vec![Toxic::http_status(500).body("boom")]);
    rig.client(b"HEAD /h HTTP/1.1\r\n\r\n");
    assert_eq!(rig.client_text(), "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\ncontent-type: text/plain; charset=utf-8\r\n\r\n");
    rig.client(b"GET /c HTTP/1.1\r\nconnection: close\r\n\r\nGET /after HTTP/1.1\r\n\r\n");
    assert!(rig.client_text().ends_with("connection: close\r\n\r\nboom"));
    assert!(rig.client_eof && rig.close);
    assert!(rig.to_server.is_empty());
}

#[test]
fn a_delay_holds_the_response_until_due_and_removal_releases_it() {
    let mut rig = Rig::new(vec![Toxic::http_delay(Duration::from_millis(300))]);
    rig.client(b"GET /1 HTTP/1.1\r\n\r\n");
    rig.server(OK);
    assert!(rig.to_client.is_empty());
    assert_eq!(
        rig.layer.deadline(),
        Some(rig.now + Duration::from_millis(300))
    );
    rig.advance(Duration::from_millis(299));
    assert!(rig.to_client.is_empty());
    rig.advance(Duration::from_millis(1));
    assert_eq!(rig.to_client, OK);
    rig.client(b"GET /2 HTTP/1.1\r\n\r\n");
    rig.server(OK);
    assert_eq!(rig.to_client.len(), OK.len());
    rig.apply(vec![]);
    assert_eq!(
        rig.to_client,
        [OK, OK].concat(),
        "a removed delay is abandoned"
    );
    assert!(rig.layer.retired());
}

#[test]
fn a_dropped_response_closes_the_client_after_earlier_responses() {
    let mut rig = Rig::new(vec![Toxic::http_drop_response().method("POST")]);
    rig.client(b"GET /a HTTP/1.1\r\n\r\nPOST /pay HTTP/1.1\r\ncontent-length: 1\r\n\r\n1");
    assert_eq!(
        rig.to_server,
        b"GET /a HTTP/1.1\r\n\r\nPOST /pay HTTP/1.1\r\ncontent-length: 1\r\n\r\n1"
    );
    rig.server(OK);
    assert!(!rig.client_eof);
    // An interim response still passes; the final one is dropped.
    rig.server(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n");
    assert_eq!(
        rig.to_client,
        [OK, b"HTTP/1.1 100 Continue\r\n\r\n"].concat()
    );
    assert!(rig.client_eof && rig.close);
    rig.client(b"GET /later HTTP/1.1\r\n\r\n");
    assert!(
        !rig.to_server.ends_with(b"/later HTTP/1.1\r\n\r\n"),
        "nothing passes after the close"
    );
}

#[test]
fn bytes_pass_unchanged_whatever_the_split_when_no_toxic_fires() {
    let requests = b"POST /e HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    let responses = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
    for step in [1, 5, 1000] {
        let mut rig = Rig::new(vec![
            Toxic::http_status(503).path_prefix("/none"),
            Toxic::http_delay(Duration::from_secs(1)).toxicity(Toxicity::NEVER),
        ]);
        for part in requests.chunks(step) {
            rig.client(part);
        }
        for part in responses.chunks(step) {
            rig.server(part);
        }
        assert_eq!(rig.to_server, requests, "step {step}");
        assert_eq!(rig.to_client, responses, "step {step}");
        rig.apply(vec![]);
        assert!(rig.layer.retired(), "step {step}");
    }
}

#[test]
fn unframable_traffic_passes_through_and_stops_the_toxics() {
    let mut rig = Rig::new(vec![Toxic::http_status(503)]);
    rig.client(b"\x00\x01binary");
    rig.client(b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(rig.to_server, b"\x00\x01binaryGET / HTTP/1.1\r\n\r\n");
    rig.server(b"anything");
    assert_eq!(rig.to_client, b"anything");
    assert!(
        !rig.layer.retired(),
        "a connection that stopped framing keeps its layer"
    );
}
