//! Published ports are bound where the engine's configuration says ([`Engine::bind_addr`]) and
//! reached on the engine's host ([`Engine::host`]): on a local socket both are 127.0.0.1, with
//! `DOCKER_HOST=tcp://H:P` the port is bound on every interface and dialled on H. `.ci/run` runs
//! this test both ways.

use shakedown::engine::Engine;
use shakedown::image::{ensure, BuildPolicy, RUNTIME};
use shakedown::{NodeSpec, Probe, Topology};
use tokio::io::AsyncReadExt;

/// A server greeting every connection on port 7000 (perl-base is in every Debian image).
const GREETER: &str = "use IO::Socket::INET; \
    my $s = IO::Socket::INET->new(LocalPort => 7000, Listen => 5, ReuseAddr => 1) or die $!; \
    while (my $c = $s->accept) { print $c \"hello\\n\"; close $c }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_ports_are_bound_and_dialled_where_the_engine_is() -> anyhow::Result<()> {
    ensure(&[RUNTIME], BuildPolicy::from_env()).await?;
    let topology = Topology::start().await?;
    let engine: Engine = *topology.engine();
    eprintln!(
        "engine: dialled on {}, binds {}",
        engine.host(),
        engine.bind_addr()
    );
    let node = topology
        .start_node(
            NodeSpec::new("greeter", RUNTIME.reference())
                .cmd(["perl", "-e", GREETER])
                .port(7000)
                .probe(Probe::Tcp(7000)),
        )
        .await?;
    let addr = node.host_addr(7000).await?;
    assert_eq!(addr.ip(), engine.host());

    let mut greeting = String::new();
    tokio::net::TcpStream::connect(addr)
        .await?
        .read_to_string(&mut greeting)
        .await?;
    assert_eq!(greeting, "hello\n");

    let inspect = topology.docker().inspect_container(node.id(), None).await?;
    let bound: Vec<Option<String>> = inspect
        .host_config
        .and_then(|h| h.port_bindings)
        .and_then(|mut b| b.remove("7000/tcp"))
        .flatten()
        .unwrap_or_default()
        .into_iter()
        .map(|b| b.host_ip)
        .collect();
    assert_eq!(bound, vec![Some(engine.bind_addr().to_string())]);
    topology.shutdown().await?;
    Ok(())
}
