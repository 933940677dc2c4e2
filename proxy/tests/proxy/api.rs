//! The HTTP API: status codes, shapes and Toxiproxy's exact error strings.

use serde_json::json;
use shakedown_proxy::FaultProxy;

use crate::support::*;

async fn setup() -> Result<(FaultProxy, Api)> {
    let proxy = FaultProxy::start().await?;
    let api = Api::new(&proxy);
    Ok((proxy, api))
}

fn err(status: u16, text: &str) -> serde_json::Value {
    json!({ "error": text, "status": status })
}

#[tokio::test]
async fn version_body_is_exact() -> Result {
    let (proxy, api) = setup().await?;
    let resp = api.http.get(format!("{}/version", api.base)).send().await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/json;charset=utf-8"
    );
    assert_eq!(resp.text().await?, "{\"version\": \"2.12.0\"}\n");
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn proxy_lifecycle_create_get_list_delete() -> Result {
    let (proxy, api) = setup().await?;
    let (s, v) = api.json("GET", "/proxies", None).await?;
    assert_eq!((s, v), (200, json!({})));

    let body = r#"{"name":"redis","listen":"localhost:0","upstream":"localhost:6379"}"#;
    let (s, v) = api.json("POST", "/proxies", Some(body)).await?;
    assert_eq!(s, 201);
    assert_eq!(v["name"], "redis");
    assert_eq!(v["upstream"], "localhost:6379");
    assert_eq!(v["enabled"], true);
    assert_eq!(v["toxics"], json!([]));
    let listen = v["listen"].as_str().unwrap_or_default().to_string();
    assert!(
        listen.starts_with("127.0.0.1:") && !listen.ends_with(":0"),
        "{listen}"
    );

    let (s, v) = api.json("GET", "/proxies/redis", None).await?;
    assert_eq!(s, 200);
    assert_eq!(v["listen"], listen.as_str());
    let (_, all) = api.json("GET", "/proxies", None).await?;
    assert_eq!(all["redis"]["name"], "redis");

    let (s, text) = api.call("DELETE", "/proxies/redis", None).await?;
    assert_eq!((s, text.as_str()), (204, ""));
    let resp = api
        .http
        .delete(format!("{}/proxies/redis", api.base))
        .send()
        .await?;
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        resp.text().await?,
        "{\"error\":\"proxy not found\",\"status\":404}\n"
    );
    // The listener is gone.
    assert!(tokio::net::TcpStream::connect(&listen).await.is_err());
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn create_errors_use_toxiproxy_strings() -> Result {
    let (proxy, api) = setup().await?;
    let cases = [
        ("", 400, "bad request body: EOF"),
        (r#"{"upstream":"x:1"}"#, 400, "missing required field: name"),
        (
            r#"{"name":"","upstream":""}"#,
            400,
            "missing required field: name",
        ),
        (r#"{"name":"a"}"#, 400, "missing required field: upstream"),
    ];
    for (body, status, text) in cases {
        let (s, v) = api.json("POST", "/proxies", Some(body)).await?;
        assert_eq!((s, v), (status, err(status, text)), "body {body}");
    }
    let (s, v) = api
        .json("POST", "/proxies", Some(r#"{"name":5,"upstream":"x:1"}"#))
        .await?;
    assert_eq!(s, 400);
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("bad request body: json: cannot unmarshal number"),
        "{v}"
    );

    let ok = r#"{"name":"a","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"}"#;
    assert_eq!(api.json("POST", "/proxies", Some(ok)).await?.0, 201);
    let (s, v) = api.json("POST", "/proxies", Some(ok)).await?;
    assert_eq!((s, v), (409, err(409, "proxy already exists")));

    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = taken.local_addr()?;
    let body = format!(r#"{{"name":"b","listen":"{addr}","upstream":"127.0.0.1:9"}}"#);
    let (s, v) = api.json("POST", "/proxies", Some(&body)).await?;
    assert_eq!(s, 500);
    assert_eq!(
        v["error"],
        format!("listen tcp {addr}: bind: address already in use")
    );
    assert_eq!(
        api.json("GET", "/proxies/b", None).await?.0,
        404,
        "failed bind must not add the proxy"
    );
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn disabled_proxy_keeps_literal_listen_and_refuses_until_enabled() -> Result {
    let (proxy, api) = setup().await?;
    let free = dead_addr();
    let body =
        format!(r#"{{"name":"d","listen":"{free}","upstream":"127.0.0.1:9","enabled":false}}"#);
    let (s, v) = api.json("POST", "/proxies", Some(&body)).await?;
    assert_eq!(s, 201);
    assert_eq!(v["enabled"], false);
    assert_eq!(v["listen"], free.to_string());
    assert!(tokio::net::TcpStream::connect(free).await.is_err());
    // toxiproxy_rust enables with POST; the Go client uses PATCH. Both work.
    let (s, v) = api
        .json("POST", "/proxies/d", Some(r#"{"enabled":true}"#))
        .await?;
    assert_eq!((s, &v["enabled"]), (200, &json!(true)));
    assert!(tokio::net::TcpStream::connect(free).await.is_ok());
    let (s, v) = api
        .json("PATCH", "/proxies/d", Some(r#"{"enabled":false}"#))
        .await?;
    assert_eq!((s, &v["enabled"]), (200, &json!(false)));
    assert!(tokio::net::TcpStream::connect(free).await.is_err());
    let (s, v) = api
        .json("PATCH", "/proxies/nope", Some(r#"{"enabled":false}"#))
        .await?;
    assert_eq!((s, v), (404, err(404, "proxy not found")));
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn populate_creates_keeps_and_validates_first() -> Result {
    let (proxy, api) = setup().await?;
    let one = r#"[{"name":"one","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"}]"#;
    let (s, v) = api.json("POST", "/populate", Some(one)).await?;
    assert_eq!(s, 201);
    assert_eq!(
        v.as_object().map(|o| o.len()),
        Some(1),
        "only the proxies key: {v}"
    );
    assert_eq!(v["proxies"][0]["enabled"], true);
    let listen = v["proxies"][0]["listen"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // Same name, same (resolved) listen and upstream: untouched, toxics kept.
    api.json("POST", "/proxies/one/toxics", Some(r#"{"type":"latency"}"#))
        .await?;
    let again = format!(
        r#"[{{"name":"one","listen":"localhost:{}","upstream":"127.0.0.1:9","enabled":false}}]"#,
        listen.rsplit(':').next().unwrap_or("0")
    );
    let (s, v) = api.json("POST", "/populate", Some(&again)).await?;
    assert_eq!(s, 201);
    assert_eq!(v["proxies"][0]["enabled"], true);
    assert_eq!(v["proxies"][0]["toxics"].as_array().map(Vec::len), Some(1));

    // Different upstream: replaced, toxics gone.
    let changed = r#"[{"name":"one","listen":"127.0.0.1:0","upstream":"127.0.0.1:10"}]"#;
    let (_, v) = api.json("POST", "/populate", Some(changed)).await?;
    assert_eq!(v["proxies"][0]["toxics"], json!([]));

    // Validation first: nothing created.
    let bad = r#"[{"name":"two","upstream":"127.0.0.1:9"},{"upstream":"127.0.0.1:9"}]"#;
    let (s, v) = api.json("POST", "/populate", Some(bad)).await?;
    assert_eq!(s, 400);
    assert_eq!(v["error"], "missing required field: name at proxy 2");
    assert_eq!(api.json("GET", "/proxies/two", None).await?.0, 404);

    // Empty list: an empty array, never null.
    let (s, v) = api.json("POST", "/populate", Some("[]")).await?;
    assert_eq!((s, v), (201, json!({"proxies": []})));

    // A bind failure part-way keeps what came before.
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = taken.local_addr()?;
    let partial = format!(
        r#"[{{"name":"three","upstream":"127.0.0.1:9"}},{{"name":"four","listen":"{addr}","upstream":"127.0.0.1:9"}}]"#
    );
    let (s, v) = api.json("POST", "/populate", Some(&partial)).await?;
    assert_eq!(s, 500);
    assert_eq!(v["proxies"][0]["name"], "three");
    assert_eq!(api.json("GET", "/proxies/three", None).await?.0, 200);
    assert_eq!(api.json("GET", "/proxies/four", None).await?.0, 404);

    let (s, v) = api
        .json("POST", "/populate", Some(r#"{"name":"x"}"#))
        .await?;
    assert_eq!(s, 400);
    assert!(v["error"]
        .as_str()
        .unwrap_or_default()
        .starts_with("bad request body"));
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn toxic_crud_defaults_conflicts_and_merge_updates() -> Result {
    let (proxy, api) = setup().await?;
    api.json(
        "POST",
        "/proxies",
        Some(r#"{"name":"p","upstream":"127.0.0.1:9"}"#),
    )
    .await?;
    let (s, v) = api
        .json(
            "POST",
            "/proxies/p/toxics",
            Some(r#"{"type":"latency","attributes":{"latency":100}}"#),
        )
        .await?;
    assert_eq!(s, 200);
    assert_eq!(
        v,
        json!({"attributes":{"latency":100,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1.0})
    );
    let (s, v) = api
        .json(
            "POST",
            "/proxies/p/toxics",
            Some(r#"{"type":"latency","stream":"upstream","toxicity":0.5}"#),
        )
        .await?;
    assert_eq!(
        (s, &v["name"], &v["toxicity"]),
        (200, &json!("latency_upstream"), &json!(0.5))
    );
    // Names are unique across streams.
    let (s, v) = api
        .json(
            "POST",
            "/proxies/p/toxics",
            Some(r#"{"name":"latency_upstream","type":"noop"}"#),
        )
        .await?;
    assert_eq!((s, v), (409, err(409, "toxic already exists")));
    let (s, v) = api
        .json(
            "POST",
            "/proxies/p/toxics",
            Some(r#"{"type":"latency","stream":"sideways"}"#),
        )
        .await?;
    assert_eq!(
        (s, v),
        (
            400,
            err(
                400,
                "stream was invalid, can be either upstream or downstream"
            )
        )
    );
    let (s, v) = api
        .json("POST", "/proxies/p/toxics", Some(r#"{"type":"latancy"}"#))
        .await?;
    assert_eq!((s, v), (400, err(400, "invalid toxic type")));
    let (s, v) = api.json("POST", "/proxies/p/toxics", Some(r#"{}"#)).await?;
    assert_eq!((s, v), (400, err(400, "invalid toxic type")));
    let (s, v) = api
        .json("POST", "/proxies/nope/toxics", Some(r#"{"type":"noop"}"#))
        .await?;
    assert_eq!((s, v), (404, err(404, "proxy not found")));
    let (s, v) = api
        .json("POST", "/proxies/p/toxics", Some(r#"{"type":"noop"}"#))
        .await?;
    assert_eq!((s, &v["attributes"]), (200, &json!({})));

    // Upstream first, then downstream, each in insertion order.
    let (_, list) = api.json("GET", "/proxies/p/toxics", None).await?;
    let names: Vec<_> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(
        names,
        vec![
            json!("latency_upstream"),
            json!("latency_downstream"),
            json!("noop_downstream")
        ]
    );

    // Merge update: only the keys sent change; toxicity kept unless sent.
    let (s, v) = api
        .json(
            "PATCH",
            "/proxies/p/toxics/latency_downstream",
            Some(r#"{"attributes":{"jitter":5}}"#),
        )
        .await?;
    assert_eq!(
        (s, &v["attributes"]),
        (200, &json!({"latency":100,"jitter":5}))
    );
    let (s, v) = api
        .json(
            "POST",
            "/proxies/p/toxics/latency_upstream",
            Some(r#"{"toxicity":0.25,"type":"bandwidth","stream":"downstream"}"#),
        )
        .await?;
    assert_eq!(
        (s, &v["toxicity"], &v["type"], &v["stream"]),
        (200, &json!(0.25), &json!("latency"), &json!("upstream"))
    );
    let (s, v) = api
        .json("GET", "/proxies/p/toxics/latency_downstream", None)
        .await?;
    assert_eq!((s, &v["attributes"]["jitter"]), (200, &json!(5)));
    let (s, v) = api
        .json("PATCH", "/proxies/p/toxics/ghost", Some("{}"))
        .await?;
    assert_eq!((s, v), (404, err(404, "toxic not found")));
    let (s, v) = api.json("GET", "/proxies/p/toxics/ghost", None).await?;
    assert_eq!((s, v), (404, err(404, "toxic not found")));

    assert_eq!(
        api.call("DELETE", "/proxies/p/toxics/latency_downstream", None)
            .await?,
        (204, String::new())
    );
    let (s, v) = api
        .json("DELETE", "/proxies/p/toxics/latency_downstream", None)
        .await?;
    assert_eq!((s, v), (404, err(404, "toxic not found")));
    let (_, v) = api.json("GET", "/proxies/p", None).await?;
    assert_eq!(v["toxics"].as_array().map(Vec::len), Some(2));
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn reset_removes_toxics_and_enables_but_keeps_proxies() -> Result {
    let (proxy, api) = setup().await?;
    api.json(
        "POST",
        "/proxies",
        Some(r#"{"name":"r","upstream":"127.0.0.1:9"}"#),
    )
    .await?;
    api.json("POST", "/proxies/r/toxics", Some(r#"{"type":"timeout"}"#))
        .await?;
    api.json("PATCH", "/proxies/r", Some(r#"{"enabled":false}"#))
        .await?;
    assert_eq!(
        api.call("POST", "/reset", None).await?,
        (204, String::new())
    );
    let (s, v) = api.json("GET", "/proxies/r", None).await?;
    assert_eq!(
        (s, &v["enabled"], &v["toxics"]),
        (200, &json!(true), &json!([]))
    );
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn request_id_browser_block_and_unknown_paths() -> Result {
    let (proxy, api) = setup().await?;
    let resp = api.http.get(format!("{}/proxies", api.base)).send().await?;
    assert!(resp.headers().contains_key("x-toxiproxy-request-id"));
    let resp = api
        .http
        .get(format!("{}/proxies", api.base))
        .header("User-Agent", "Mozilla/5.0 (X11)")
        .send()
        .await?;
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.text().await?, "User agent not allowed");
    let (s, text) = api.call("GET", "/nowhere", None).await?;
    assert_eq!((s, text.as_str()), (404, "404 page not found\n"));
    let (s, _) = api.call("PUT", "/proxies", Some("{}")).await?;
    assert_eq!(s, 405);
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn metrics_count_bytes_per_direction() -> Result {
    let (proxy, api) = setup().await?;
    let echo = echo_server().await?;
    let link = proxy.link("m", echo).await?;
    let back = echo_through(link.listen_addr(), &[1u8; 1000]).await?;
    assert_eq!(back.len(), 1000);
    let (s, text) = api.call("GET", "/metrics", None).await?;
    assert_eq!(s, 200);
    let listen = link.listen_addr();
    for dir in ["upstream", "downstream"] {
        for m in ["received", "sent"] {
            let line = format!(
                "toxiproxy_proxy_{m}_bytes_total{{direction=\"{dir}\",listener=\"{listen}\",proxy=\"m\",upstream=\"{echo}\"}} 1000"
            );
            assert!(text.contains(&line), "missing {line} in\n{text}");
        }
    }
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn seed_field_is_accepted_and_reported() -> Result {
    let (proxy, api) = setup().await?;
    let (s, v) = api
        .json(
            "POST",
            "/proxies",
            Some(r#"{"name":"s","upstream":"127.0.0.1:9","seed":12345}"#),
        )
        .await?;
    assert_eq!((s, &v["seed"]), (201, &json!(12345)));
    let (s, v) = api
        .json(
            "POST",
            "/proxies",
            Some(r#"{"name":"t","upstream":"127.0.0.1:9","seed":-1}"#),
        )
        .await?;
    assert_eq!(s, 400, "{v}");
    proxy.shutdown().await;
    Ok(())
}
