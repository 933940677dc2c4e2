//! Load and bad input: many connections while toxics change, and every malformed request
//! answered with a Toxiproxy error body, never a panic or a hang.

use std::sync::Arc;
use std::time::Duration;

use shakedown_proxy::{FaultProxy, Toxic};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::support::*;

/// Raises the soft open-file limit to the hard one (1,000 connections need ~6,000 fds).
fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_thousand_connections_of_one_megabyte_while_toxics_change() -> Result {
    const CONNS: usize = 1000;
    const SIZE: usize = 1 << 20;
    raise_fd_limit();
    let proxy = FaultProxy::builder().seed(3).start().await?;
    let link = proxy.link("stress", echo_server().await?).await?;
    // One shared buffer; connection i sends the 1 MB window starting at a different offset,
    // so crossed, lost, reordered or corrupted bytes all show up.
    let base = Arc::new(pattern(2 * SIZE, 99));

    let (stop_tx, mut stop_rx) = watch::channel(false);
    let churn = {
        let link = link.clone();
        tokio::spawn(async move {
            let mut rounds = 0u32;
            while !*stop_rx.borrow() {
                let toxic = match rounds % 4 {
                    0 => Toxic::noop(),
                    1 => Toxic::latency(Duration::from_millis(1)),
                    2 => Toxic::slicer(16 << 10, 4 << 10, Duration::ZERO),
                    _ => Toxic::bandwidth(10_000_000),
                };
                let up = link
                    .add(toxic.clone().upstream().named(format!("u{rounds}")))
                    .await?;
                let down = link.add(toxic.named(format!("d{rounds}"))).await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
                drop(up);
                tokio::time::sleep(Duration::from_millis(10)).await;
                drop(down);
                rounds += 1;
                tokio::select! {
                    _ = stop_rx.changed() => {}
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
            }
            anyhow::Ok(rounds)
        })
    };

    let addr = link.listen_addr();
    let mut tasks = Vec::with_capacity(CONNS);
    for i in 0..CONNS {
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let offset = (i * 7919) % SIZE;
            let data = &base[offset..offset + SIZE];
            let stream = TcpStream::connect(addr).await?;
            let (mut r, mut w) = stream.into_split();
            let writer = async {
                for piece in data.chunks(64 << 10) {
                    w.write_all(piece).await?;
                }
                w.shutdown().await?;
                anyhow::Ok(())
            };
            let reader = async {
                let mut got = 0usize;
                let mut buf = vec![0u8; 64 << 10];
                loop {
                    let n = r.read(&mut buf).await?;
                    if n == 0 {
                        break;
                    }
                    anyhow::ensure!(got + n <= SIZE, "connection {i}: too many bytes");
                    anyhow::ensure!(
                        buf[..n] == data[got..got + n],
                        "connection {i}: bytes differ at {got}"
                    );
                    got += n;
                }
                anyhow::ensure!(got == SIZE, "connection {i}: {got} of {SIZE} bytes");
                anyhow::Ok(())
            };
            let (w, r) = tokio::join!(writer, reader);
            w?;
            r
        }));
    }
    let all = async {
        let mut errors = Vec::new();
        for t in tasks {
            if let Err(e) = t.await? {
                errors.push(e.to_string());
            }
        }
        if !errors.is_empty() {
            errors.sort();
            anyhow::bail!(
                "{} of {CONNS} streams failed; first: {}",
                errors.len(),
                errors[0]
            );
        }
        anyhow::Ok(())
    };
    within(Duration::from_secs(100), "1000 streams", all).await??;
    let _ = stop_tx.send(true);
    let rounds = churn.await??;
    assert!(rounds >= 1, "toxics never changed during the run");
    assert_eq!(link.accepted_connections()?, CONNS as u64);
    proxy.shutdown().await;
    Ok(())
}

fn assert_error_body(status: u16, text: &str, what: &str) {
    assert!(
        (400..500).contains(&status),
        "{what}: status {status}, body {text}"
    );
    let v: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
    assert!(v["error"].is_string(), "{what}: {text}");
    assert_eq!(v["status"], status, "{what}");
}

#[tokio::test]
async fn malformed_requests_get_toxiproxy_errors_and_the_server_keeps_working() -> Result {
    let proxy = FaultProxy::start().await?;
    let api = Api::new(&proxy);
    api.json(
        "POST",
        "/proxies",
        Some(r#"{"name":"p","upstream":"127.0.0.1:9"}"#),
    )
    .await?;
    api.json(
        "POST",
        "/proxies/p/toxics",
        Some(r#"{"name":"t","type":"latency"}"#),
    )
    .await?;
    let cases: &[(&str, &str, &str)] = &[
        ("POST", "/proxies", "{"),
        ("POST", "/proxies", "[]"),
        ("POST", "/proxies", "null"),
        ("POST", "/proxies", "123"),
        ("POST", "/proxies", r#"{"name":["x"],"upstream":"a:1"}"#),
        (
            "POST",
            "/proxies",
            r#"{"name":"q","upstream":"a:1","enabled":"yes"}"#,
        ),
        (
            "POST",
            "/proxies",
            r#"{"name":"q","upstream":"a:1","seed":1.5}"#,
        ),
        ("POST", "/populate", "{}"),
        ("POST", "/populate", "[1]"),
        ("POST", "/populate", r#"[{"name":1}]"#),
        ("POST", "/populate", "\u{0}\u{1}"),
        ("POST", "/proxies/p/toxics", r#"{"type":"packet_loss"}"#),
        ("POST", "/proxies/p/toxics", r#"{"type":7}"#),
        (
            "POST",
            "/proxies/p/toxics",
            r#"{"type":"latency","stream":5}"#,
        ),
        (
            "POST",
            "/proxies/p/toxics",
            r#"{"type":"latency","attributes":[1]}"#,
        ),
        (
            "POST",
            "/proxies/p/toxics",
            r#"{"type":"latency","attributes":{"latency":-5}}"#,
        ),
        (
            "POST",
            "/proxies/p/toxics",
            r#"{"type":"latency","attributes":{"latency":1e300}}"#,
        ),
        (
            "POST",
            "/proxies/p/toxics",
            r#"{"type":"latency","attributes":{"latency":18446744073709551615}}"#,
        ),
        (
            "POST",
            "/proxies/p/toxics",
            r#"{"type":"bandwidth","attributes":{"rate":-1}}"#,
        ),
        (
            "POST",
            "/proxies/p/toxics",
            r#"{"type":"slicer","attributes":{"delay":true}}"#,
        ),
        (
            "POST",
            "/proxies/p/toxics",
            r#"{"type":"latency","toxicity":-1}"#,
        ),
        (
            "POST",
            "/proxies/p/toxics",
            r#"{"type":"latency","toxicity":2.5}"#,
        ),
        (
            "POST",
            "/proxies/p/toxics",
            r#"{"type":"latency","name":"t"}"#,
        ),
        (
            "PATCH",
            "/proxies/p/toxics/t",
            r#"{"attributes":{"latency":"slow"}}"#,
        ),
        ("PATCH", "/proxies/p/toxics/t", r#"{"toxicity":"all"}"#),
        ("PATCH", "/proxies/p/toxics/t", "]"),
        ("PATCH", "/proxies/p", r#"{"enabled":1}"#),
        ("PATCH", "/proxies/p", "{{"),
        ("GET", "/proxies/nope", ""),
        ("DELETE", "/proxies/nope", ""),
        ("PATCH", "/proxies/nope", "{}"),
        ("GET", "/proxies/nope/toxics", ""),
        ("POST", "/proxies/nope/toxics", r#"{"type":"noop"}"#),
        ("GET", "/proxies/nope/toxics/t", ""),
        ("DELETE", "/proxies/p/toxics/nope", ""),
    ];
    for (method, path, body) in cases {
        let what = format!("{method} {path} {body}");
        let (status, text) = within(
            Duration::from_secs(5),
            &what,
            api.call(method, path, Some(body)),
        )
        .await??;
        assert_error_body(status, &text, &what);
    }
    // Random garbage bodies.
    for (seed, i) in (1u64..).zip(0..200) {
        let len = (i * 7) % 97;
        let body: String = pattern(len, seed)
            .iter()
            .map(|b| char::from(b"{}[]\":,0123456789.-eEtrufalsn abc"[usize::from(*b) % 33]))
            .collect();
        for path in [
            "/proxies",
            "/populate",
            "/proxies/p/toxics",
            "/proxies/p/toxics/t",
        ] {
            let (status, text) = api.call("POST", path, Some(&body)).await?;
            if status >= 300 {
                assert_error_body(status, &text, &format!("POST {path} {body}"));
            }
        }
    }
    // Still serving, state intact.
    let (s, v) = api.json("GET", "/proxies/p/toxics/t", None).await?;
    assert_eq!(s, 200);
    assert_eq!(v["type"], "latency");
    proxy.shutdown().await;
    Ok(())
}
