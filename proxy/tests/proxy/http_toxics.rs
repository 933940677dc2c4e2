//! The HTTP/1.1 toxics against a real HTTP server (axum) and a real client (hyper, one
//! keep-alive connection per `Conn`, so every request of a test shares the connection).

use std::time::{Duration, Instant};

use bytes::Bytes;
use shakedown_proxy::{FaultProxy, Link, Toxic, Toxicity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http_support::*;
use crate::support::*;

async fn setup(seed: u64) -> Result<(FaultProxy, Link, Hits)> {
    let proxy = FaultProxy::builder().seed(seed).start().await?;
    let (addr, hits) = upstream().await?;
    let link = proxy.link("api", addr).await?;
    Ok((proxy, link, hits))
}

#[tokio::test]
async fn http_status_answers_matching_requests_without_forwarding_them() -> Result {
    let (proxy, link, hits) = setup(1).await?;
    let _t = link
        .add(
            Toxic::http_status(503)
                .body("down")
                .method("POST")
                .path_prefix("/pay"),
        )
        .await?;
    let mut c = Conn::open(link.listen_addr()).await?;
    assert_eq!(c.get("/pay").await?, (200, Bytes::from("ok GET /pay")));
    assert_eq!(
        c.send("POST", "/payments", full(pattern(5000, 1))).await?,
        (503, Bytes::from("down"))
    );
    // A chunked body is read and discarded too; the connection stays in step.
    assert_eq!(
        c.send("POST", "/pay", chunked(&pattern(70_000, 2), 777))
            .await?,
        (503, Bytes::from("down"))
    );
    assert_eq!(
        c.send("POST", "/other", full(b"x".to_vec())).await?,
        (200, Bytes::from("ok POST /other"))
    );
    assert_eq!(
        count(&hits, "POST /payments") + count(&hits, "POST /pay"),
        0
    );
    assert_eq!(count(&hits, "GET /pay"), 1);
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn pipelined_requests_get_their_responses_in_order() -> Result {
    let (proxy, link, hits) = setup(2).await?;
    let _t = link
        .add(Toxic::http_status(418).path_prefix("/tea"))
        .await?;
    let mut s = TcpStream::connect(link.listen_addr()).await?;
    s.write_all(
        b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n\
          POST /tea HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc\
          GET /b HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await?;
    let (raw, err) = within(Duration::from_secs(10), "the responses", read_all(&mut s)).await?;
    assert!(err.is_none(), "{err:?}");
    let text = String::from_utf8_lossy(&raw);
    let a = text.find("ok GET /a").expect("response to /a");
    let tea = text
        .find("HTTP/1.1 418 I'm a teapot\r\ncontent-length: 0\r\n\r\n")
        .expect("answer");
    let b = text.find("ok GET /b").expect("response to /b");
    assert!(a < tea && tea < b, "{text}");
    assert_eq!(
        *hits.lock().unwrap_or_else(|p| p.into_inner()),
        ["GET /a", "GET /b"]
    );
    proxy.shutdown().await;
    Ok(())
}

/// 120 requests of varied sizes on one connection, bodies with `Content-Length` and chunked
/// both ways, while HTTP toxics match only other paths (or never fire): every byte intact.
#[tokio::test]
async fn keep_alive_traffic_is_intact_when_the_toxics_do_not_fire() -> Result {
    let (proxy, link, hits) = setup(3).await?;
    let _a = link
        .add(Toxic::http_status(500).path_prefix("/never"))
        .await?;
    let _b = link
        .add(Toxic::http_drop_response().method("PUT").named("drop"))
        .await?;
    let _c = link
        .add(
            Toxic::http_delay(Duration::from_secs(30))
                .toxicity(Toxicity::NEVER)
                .named("d"),
        )
        .await?;
    let mut c = Conn::open(link.listen_addr()).await?;
    for i in 0..120usize {
        let n = (i * 7919) % 200_000;
        match i % 5 {
            0 => assert_eq!(
                c.send("POST", "/echo", full(pattern(n, i as u64))).await?.1,
                pattern(n, i as u64)
            ),
            1 => {
                let data = pattern(n, i as u64);
                assert_eq!(
                    c.send("POST", "/echo", chunked(&data, 1 + i * 37)).await?.1,
                    data
                );
            }
            2 => assert_eq!(
                c.get(&format!("/chunked/{n}")).await?.1,
                pattern(n, n as u64)
            ),
            3 => assert_eq!(c.get(&format!("/bytes/{n}")).await?.1, pattern(n, n as u64)),
            _ => {
                let (status, body) = c.send("HEAD", &format!("/bytes/{n}"), empty()).await?;
                assert_eq!((status, body.len()), (200, 0));
            }
        }
    }
    assert_eq!(hits.lock().unwrap_or_else(|p| p.into_inner()).len(), 120);
    proxy.shutdown().await;
    Ok(())
}

/// HTTP toxics added and removed every few milliseconds while one keep-alive connection
/// carries requests: layers come and go mid-connection, bytes stay intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_traffic_stays_intact_while_http_toxics_churn() -> Result {
    let (proxy, link, hits) = setup(9).await?;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let churn_link = link.clone();
    let churner = tokio::spawn(async move {
        let mut rounds = 0u32;
        while !*stop.borrow() {
            let s = churn_link
                .add(
                    Toxic::http_status(500)
                        .path_prefix("/never")
                        .named(format!("s{rounds}")),
                )
                .await?;
            let d = churn_link
                .add(
                    Toxic::http_delay(Duration::from_millis(1))
                        .path_prefix("/echo")
                        .named(format!("d{rounds}")),
                )
                .await?;
            tokio::time::sleep(Duration::from_millis(3)).await;
            drop(s);
            drop(d);
            tokio::time::sleep(Duration::from_millis(2)).await;
            rounds += 1;
        }
        anyhow::Ok(rounds)
    });
    let mut c = Conn::open(link.listen_addr()).await?;
    for i in 0..150usize {
        let n = (i * 4099) % 60_000;
        let data = pattern(n, i as u64);
        let back = match i % 3 {
            0 => c.send("POST", "/echo", full(data.clone())).await?.1,
            1 => c.send("POST", "/echo", chunked(&data, 500)).await?.1,
            _ => {
                let body = c.get(&format!("/chunked/{n}")).await?.1;
                assert_eq!(body, pattern(n, n as u64), "request {i}");
                continue;
            }
        };
        assert_eq!(back, data, "request {i}");
    }
    stop_tx.send(true)?;
    let rounds = churner.await??;
    assert!(rounds >= 3, "only {rounds} churn rounds");
    assert_eq!(hits.lock().unwrap_or_else(|p| p.into_inner()).len(), 150);
    // The toxics did act on the connection (the delay fires on `/echo`).
    let (_, metrics) = Api::new(&proxy).call("GET", "/metrics", None).await?;
    assert!(metrics.contains("action=\"delayed\""), "{metrics}");
    proxy.shutdown().await;
    Ok(())
}

/// Which of 200 requests on one connection an `http_status` at toxicity 0.5 answers.
async fn answered_at_half(seed: u64) -> Result<Vec<usize>> {
    let (proxy, link, _) = setup(seed).await?;
    let _t = link
        .add(Toxic::http_status(503).toxicity(Toxicity::new(0.5)?))
        .await?;
    let mut c = Conn::open(link.listen_addr()).await?;
    let mut answered = Vec::new();
    for i in 0..200 {
        if c.get(&format!("/r/{i}")).await?.0 == 503 {
            answered.push(i);
        }
    }
    proxy.shutdown().await;
    Ok(answered)
}

#[tokio::test]
async fn toxicity_is_rolled_per_request_and_seeded() -> Result {
    let first = answered_at_half(42).await?;
    assert!((60..=140).contains(&first.len()), "{} of 200", first.len());
    assert_eq!(
        answered_at_half(42).await?,
        first,
        "same seed, same requests"
    );
    assert_ne!(answered_at_half(43).await?, first);
    Ok(())
}

#[tokio::test]
async fn http_delay_holds_matching_responses() -> Result {
    let (proxy, link, _) = setup(4).await?;
    let _t = link
        .add(Toxic::http_delay(Duration::from_millis(300)).path_prefix("/slow"))
        .await?;
    let mut c = Conn::open(link.listen_addr()).await?;
    let started = Instant::now();
    assert_eq!(
        c.get("/slow/1").await?,
        (200, Bytes::from("ok GET /slow/1"))
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(c.get("/bytes/100000").await?.1, pattern(100_000, 100_000));
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn http_drop_response_lets_the_request_through_and_cuts_the_client_off() -> Result {
    let (proxy, link, hits) = setup(5).await?;
    let _t = link.add(Toxic::http_drop_response().method("POST")).await?;
    let mut c = Conn::open(link.listen_addr()).await?;
    assert_eq!(c.get("/before").await?.0, 200);
    let lost = c
        .send("POST", "/charge", full(b"{\"amount\":5}".to_vec()))
        .await;
    assert!(lost.is_err(), "the client got a response: {lost:?}");
    assert_eq!(
        count(&hits, "POST /charge"),
        1,
        "the upstream saw the request"
    );
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn toxics_added_and_removed_live_act_on_an_open_connection() -> Result {
    let (proxy, link, hits) = setup(6).await?;
    let mut c = Conn::open(link.listen_addr()).await?;
    assert_eq!(c.get("/x").await?.0, 200);
    let guard = link
        .add(Toxic::http_status(502).body("bad gateway"))
        .await?;
    assert_eq!(c.get("/x").await?, (502, Bytes::from("bad gateway")));
    drop(guard);
    // The removal reaches the connection through its signal; the next request sees it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(c.get("/x").await?.0, 200);
    let _d = link
        .add(Toxic::http_delay(Duration::from_millis(200)))
        .await?;
    let started = Instant::now();
    assert_eq!(c.get("/bytes/1000").await?.1, pattern(1000, 1000));
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(count(&hits, "GET /x"), 2);
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn metrics_count_requests_and_what_each_toxic_did() -> Result {
    let (proxy, link, _) = setup(7).await?;
    let api = Api::new(&proxy);
    let _s = link
        .add(Toxic::http_status(503).path_prefix("/down").named("outage"))
        .await?;
    let _d = link
        .add(
            Toxic::http_delay(Duration::from_millis(1))
                .path_prefix("/slow")
                .named("lag"),
        )
        .await?;
    let _x = link
        .add(
            Toxic::http_drop_response()
                .path_prefix("/lost")
                .named("lost"),
        )
        .await?;
    let mut c = Conn::open(link.listen_addr()).await?;
    for _ in 0..3 {
        assert_eq!(c.get("/down").await?.0, 503);
    }
    for _ in 0..2 {
        assert_eq!(c.get("/slow").await?.0, 200);
    }
    assert_eq!(c.get("/plain").await?.0, 200);
    assert!(c.get("/lost").await.is_err());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (status, text) = api.call("GET", "/metrics", None).await?;
    assert_eq!(status, 200);
    for line in [
        "shakedown_http_requests_total{proxy=\"api\"} 7",
        "shakedown_http_toxic_requests_total{action=\"answered\",proxy=\"api\",toxic=\"outage\"} 3",
        "shakedown_http_toxic_requests_total{action=\"delayed\",proxy=\"api\",toxic=\"lag\"} 2",
        "shakedown_http_toxic_requests_total{action=\"dropped\",proxy=\"api\",toxic=\"lost\"} 1",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn api_round_trips_http_toxics_and_rejects_bad_attributes() -> Result {
    let proxy = FaultProxy::builder().start().await?;
    let api = Api::new(&proxy);
    let (s, _) = api
        .call(
            "POST",
            "/proxies",
            Some(r#"{"name":"h","upstream":"127.0.0.1:9"}"#),
        )
        .await?;
    assert_eq!(s, 201);
    let (s, v) = api
        .json(
            "POST",
            "/proxies/h/toxics",
            Some(r#"{"type":"http_status","attributes":{"body":"no","method":"POST","path_prefix":"/pay"}}"#),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    let (s, v) = api
        .json("GET", "/proxies/h/toxics/http_status_downstream", None)
        .await?;
    assert_eq!(s, 200);
    assert_eq!(
        v,
        serde_json::json!({"attributes":{"status":503,"body":"no","method":"POST","path_prefix":"/pay"},
            "name":"http_status_downstream","type":"http_status","stream":"downstream","toxicity":1.0})
    );
    let (s, v) = api
        .json(
            "POST",
            "/proxies/h/toxics/http_status_downstream",
            Some(r#"{"attributes":{"status":429}}"#),
        )
        .await?;
    assert_eq!(
        (s, &v["attributes"]["status"], &v["attributes"]["body"]),
        (200, &serde_json::json!(429), &serde_json::json!("no"))
    );
    let (s, v) = api
        .json(
            "POST",
            "/proxies/h/toxics",
            Some(r#"{"type":"http_delay","attributes":{"latency":250}}"#),
        )
        .await?;
    assert_eq!(
        (s, &v["attributes"]),
        (
            200,
            &serde_json::json!({"latency":250,"method":"","path_prefix":""})
        )
    );
    for (body, needle) in [
        (
            r#"{"type":"http_status","name":"a","attributes":{"status":99}}"#,
            "attribute status",
        ),
        (
            r#"{"type":"http_status","name":"b","attributes":{"status":"503"}}"#,
            "attribute status",
        ),
        (
            r#"{"type":"http_status","name":"c","attributes":{"body":5}}"#,
            "attribute body",
        ),
        (
            r#"{"type":"http_delay","name":"d","attributes":{"latency":-5}}"#,
            "attribute latency",
        ),
        (
            r#"{"type":"http_drop_response","name":"e","attributes":{"method":"GE T"}}"#,
            "attribute method",
        ),
        (
            r#"{"type":"http_drop_response","name":"f","attributes":{"path_prefix":"/a b"}}"#,
            "attribute path_prefix",
        ),
        (
            r#"{"type":"http_status","name":"g","stream":"upstream"}"#,
            "attribute stream",
        ),
    ] {
        let (s, v) = api.json("POST", "/proxies/h/toxics", Some(body)).await?;
        assert_eq!(s, 400, "{body}: {v}");
        assert_eq!(v["status"], 400);
        let msg = v["error"].as_str().unwrap_or_default();
        assert!(
            msg.starts_with("bad request body: ") && msg.contains(needle),
            "{body}: {msg}"
        );
    }
    proxy.shutdown().await;
    Ok(())
}

/// A close-delimited HTTP/1.0 response is delayed whole; an answered `Connection: close`
/// request gets `connection: close` and the close; upstream HTTP toxics are refused.
#[tokio::test]
async fn close_delimited_responses_and_close_requests_follow_http() -> Result {
    let proxy = FaultProxy::builder().seed(10).start().await?;
    let (addr, mut accepted) = manual_server().await?;
    let link = proxy.link("old", addr).await?;
    assert!(link.add(Toxic::http_status(503).upstream()).await.is_err());
    let _d = link
        .add(Toxic::http_delay(Duration::from_millis(200)).path_prefix("/old"))
        .await?;
    let _s = link
        .add(Toxic::http_status(503).body("gone").path_prefix("/gone"))
        .await?;
    let mut client = TcpStream::connect(link.listen_addr()).await?;
    let started = Instant::now();
    client.write_all(b"GET /old HTTP/1.0\r\n\r\n").await?;
    let mut server = within(
        Duration::from_secs(5),
        "the upstream connection",
        accepted.recv(),
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("no upstream connection"))?;
    let mut head = [0u8; 21];
    server.read_exact(&mut head).await?;
    assert_eq!(&head, b"GET /old HTTP/1.0\r\n\r\n");
    server
        .write_all(b"HTTP/1.0 200 OK\r\n\r\nuntil the close")
        .await?;
    drop(server);
    let (raw, _) = within(
        Duration::from_secs(5),
        "the response",
        read_all(&mut client),
    )
    .await?;
    assert_eq!(raw, b"HTTP/1.0 200 OK\r\n\r\nuntil the close");
    assert!(started.elapsed() >= Duration::from_millis(200));

    let mut client = TcpStream::connect(link.listen_addr()).await?;
    client
        .write_all(b"GET /gone HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await?;
    let (raw, err) = within(Duration::from_secs(5), "the answer", read_all(&mut client)).await?;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        String::from_utf8_lossy(&raw),
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\
         content-type: text/plain; charset=utf-8\r\nconnection: close\r\n\r\ngone"
    );
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn traffic_that_is_not_http_passes_through_unchanged() -> Result {
    let proxy = FaultProxy::builder().seed(8).start().await?;
    let link = proxy.link("raw", echo_server().await?).await?;
    let _t = link.add(Toxic::http_status(503)).await?;
    let data = pattern(300_000, 9);
    assert_eq!(echo_through(link.listen_addr(), &data).await?, data);
    // An echoed request looks like a response to nothing: it does not frame, and passes.
    let mut s = TcpStream::connect(link.listen_addr()).await?;
    s.write_all(b"\x16\x03\x01 not http at all\r\n\r\n").await?;
    s.shutdown().await?;
    let mut back = Vec::new();
    s.read_to_end(&mut back).await?;
    assert_eq!(back, b"\x16\x03\x01 not http at all\r\n\r\n");
    proxy.shutdown().await;
    Ok(())
}
