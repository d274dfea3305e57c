//! `bench io` end to end on a tiny file: a real mini cluster, our client and the
//! baseline (the other peers need a JVM or tokio warm-up and are left to the bench).

use ferrodfs_bench::{run_io, IoBenchConfig, Peer};

#[test]
fn bench_io_runs_end_to_end_on_a_tiny_file() {
    let config = IoBenchConfig {
        size: 4 << 20,
        block_size: 1 << 20,
        replication: 3,
        peers: Peer::parse_list("ours,baseline,ours").unwrap(),
        runs: 1,
        dir: None,
        warmup: false,
    };
    assert_eq!(config.peers, vec![Peer::Ours, Peer::Baseline]);
    let report = run_io(&config).unwrap();
    for peer in [Peer::Ours, Peer::Baseline] {
        let p = report.peer(peer).unwrap();
        assert!(p.note.is_none(), "{peer}: {:?}", p.note);
        for read in [false, true] {
            let mb_s = report.mb_s(peer, read).unwrap();
            assert!(mb_s.is_finite() && mb_s > 0.0, "{peer} {read}: {mb_s}");
        }
    }
    let ratio = report.ratio(Peer::Ours, Peer::Baseline, false).unwrap();
    assert!(ratio > 0.0);
    let text = report.to_string();
    assert!(text.contains("write: ours / baseline"), "{text}");
    // Peers not asked for are "not measured", never a made-up ratio.
    assert!(report.targets().iter().any(|t| t.ratio.is_none()));
    assert!(text.contains("not measured"), "{text}");
}

#[test]
fn unknown_peers_and_bad_block_sizes_are_refused() {
    assert!(Peer::parse_list("ours,hdfs").is_err());
    assert_eq!(Peer::parse_list("all").unwrap(), Peer::ALL.to_vec());
    let config = IoBenchConfig {
        block_size: 1000,
        ..IoBenchConfig::default()
    };
    assert!(matches!(
        run_io(&config),
        Err(ferrodfs_bench::Error::BadSize { .. })
    ));
}
