//! No byte lost or reordered while toxics churn on live streams.

use std::time::Duration;

use shakedown_proxy::{FaultProxy, Link, Toxic, Toxicity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::support::*;

/// Adds, updates and removes non-destructive toxics on both streams until told to stop.
async fn churn(link: Link, mut stop: watch::Receiver<bool>) -> Result<u32> {
    let mut rounds = 0u32;
    let makers: [fn(u32) -> Toxic; 5] = [
        |i| {
            Toxic::latency(Duration::from_millis(u64::from(i % 3))).jitter(Duration::from_millis(1))
        },
        |i| {
            Toxic::slicer(
                u64::from(64 + i % 200),
                32,
                Duration::from_micros(u64::from(i % 50)),
            )
        },
        |_| Toxic::noop(),
        |i| Toxic::bandwidth(u64::from(50_000 + i)),
        |i| {
            Toxic::limit_data(1 << 40)
                .toxicity(Toxicity::new(f64::from(i % 10) / 10.0).unwrap_or_default())
        },
    ];
    while !*stop.borrow() {
        let i = rounds;
        let maker = makers[(i as usize) % makers.len()];
        let up = maker(i).upstream().named(format!("u{i}"));
        let down = maker(i + 1).named(format!("d{i}"));
        let gu = link.add(up).await?;
        let gd = link.add(down).await?;
        tokio::time::sleep(Duration::from_millis(2)).await;
        if i.is_multiple_of(3) {
            link.update(&format!("u{i}"), maker(i + 7).upstream())
                .await?;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        // Remove in both orders to exercise flushing into the next toxic and into the writer.
        if i.is_multiple_of(2) {
            drop(gu);
            drop(gd);
        } else {
            drop(gd);
            tokio::time::sleep(Duration::from_millis(1)).await;
            drop(gu);
        }
        rounds += 1;
        tokio::select! {
            _ = stop.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(1)) => {}
        }
    }
    Ok(rounds)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sequence_number_lost_or_reordered_while_toxics_churn() -> Result {
    const COUNT: u32 = 100_000;
    let proxy = FaultProxy::builder().seed(11).start().await?;
    let link = proxy.link("seq", echo_server().await?).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let churner = tokio::spawn(churn(link.clone(), stop_rx));

    let stream = TcpStream::connect(link.listen_addr()).await?;
    let (mut r, mut w) = stream.into_split();
    let writer = tokio::spawn(async move {
        let mut next = 0u32;
        while next < COUNT {
            let batch: Vec<u8> = (next..(next + 256).min(COUNT))
                .flat_map(u32::to_be_bytes)
                .collect();
            next = (next + 256).min(COUNT);
            w.write_all(&batch).await?;
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        w.shutdown().await?;
        anyhow::Ok(())
    });
    let reader = async {
        let mut expect = 0u32;
        let mut buf = [0u8; 4];
        while expect < COUNT {
            r.read_exact(&mut buf).await?;
            let got = u32::from_be_bytes(buf);
            anyhow::ensure!(got == expect, "expected {expect}, got {got}");
            expect += 1;
        }
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).await?;
        anyhow::ensure!(rest.is_empty(), "{} extra bytes", rest.len());
        anyhow::Ok(expect)
    };
    let got = within(Duration::from_secs(60), "sequence", reader).await??;
    within(Duration::from_secs(5), "writer", writer).await???;
    let _ = stop_tx.send(true);
    let rounds = within(Duration::from_secs(10), "churner", churner).await???;
    assert_eq!(got, COUNT);
    assert!(rounds >= 10, "only {rounds} churn rounds ran");
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_between_fast_path_and_toxic_path_keeps_bulk_data_intact() -> Result {
    let proxy = FaultProxy::start().await?;
    let link = proxy.link("switch", echo_server().await?).await?;
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let toggler = {
        let link = link.clone();
        tokio::spawn(async move {
            let mut n = 0u32;
            while !*stop_rx.borrow() {
                let g = link.add(Toxic::noop().named("n").upstream()).await?;
                let h = link.add(Toxic::noop().named("m")).await?;
                tokio::time::sleep(Duration::from_micros(500)).await;
                drop(g);
                tokio::time::sleep(Duration::from_micros(300)).await;
                drop(h);
                n += 1;
                tokio::select! {
                    _ = stop_rx.changed() => {}
                    _ = tokio::time::sleep(Duration::from_micros(700)) => {}
                }
            }
            anyhow::Ok(n)
        })
    };
    for salt in 0..4 {
        let data = pattern(4 << 20, salt);
        let back = within(
            Duration::from_secs(30),
            "bulk",
            echo_through(link.listen_addr(), &data),
        )
        .await??;
        assert!(
            back == data,
            "stream {salt} corrupted ({} of {} bytes back)",
            back.len(),
            data.len()
        );
    }
    let _ = stop_tx.send(true);
    let toggles = toggler.await??;
    assert!(toggles > 5, "only {toggles} toggles");
    proxy.shutdown().await;
    Ok(())
}
