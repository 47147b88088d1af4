//! The cluster harness's wiring (tests/common/cluster.rs), without starting a process: each
//! node's command line follows the contract of issue 8 (item 5), its voters name the link
//! proxies, its advertised address is its inbound proxy, and `isolate` cuts exactly the
//! proxies that carry the node's traffic.

mod common;

use common::cluster::Cluster;
use common::proxy::CutMode;

/// The value following `flag` in `args`.
fn flag(args: &[String], flag: &str) -> String {
    let i = args.iter().position(|a| a == flag).unwrap();
    args[i + 1].clone()
}

#[test]
fn each_node_gets_the_cluster_command_line_with_link_proxies_as_voters() {
    let c = Cluster::layout(3, &["replica.lag.time.max.ms=2000"]);
    for i in c.ids() {
        let args = c.args(i);
        assert_eq!(args[0], "serve");
        assert_eq!(flag(&args, "--node-id"), i.to_string());
        assert_eq!(flag(&args, "--listen"), c.direct_addr(i));
        assert_eq!(flag(&args, "--controller-listen"), c.controller_addr(i));
        assert_eq!(flag(&args, "--advertise"), c.advertised_addr(i));
        assert_eq!(flag(&args, "--metrics-listen"), "off");
        assert_eq!(
            flag(&args, "--data-dir"),
            c.data_dir(i).display().to_string()
        );
        let voters: Vec<String> = c
            .ids()
            .into_iter()
            .map(|j| {
                if i == j {
                    format!("{j}@{}", c.controller_addr(j))
                } else {
                    format!("{j}@{}", c.link(i, j).addr())
                }
            })
            .collect();
        let sets: Vec<&String> = args
            .iter()
            .zip(args.iter().skip(1))
            .filter(|(a, _)| *a == "--set")
            .map(|(_, v)| v)
            .collect();
        assert_eq!(
            sets[0],
            &format!("controller.quorum.voters={}", voters.join(","))
        );
        assert_eq!(
            sets.last().unwrap().as_str(),
            "replica.lag.time.max.ms=2000"
        );
        assert_eq!(c.inbound(i).target().to_string(), c.direct_addr(i));
        for j in c.ids().into_iter().filter(|&j| j != i) {
            assert_eq!(c.link(i, j).target().to_string(), c.controller_addr(j));
        }
    }
    assert_eq!(
        c.bootstrap(),
        format!(
            "{},{},{}",
            c.advertised_addr(1),
            c.advertised_addr(2),
            c.advertised_addr(3)
        )
    );
}

#[test]
fn isolate_cuts_exactly_the_proxies_of_the_isolated_node_and_heal_restores_them() {
    let c = Cluster::layout(3, &[]);
    c.isolate(2);
    assert!(c.is_isolated(2));
    let bh = Some(CutMode::Blackhole);
    assert_eq!(
        c.inbound(2).cut_mode(),
        bh,
        "nobody reaches node 2's broker"
    );
    for j in [1, 3] {
        assert_eq!(
            c.inbound(j).cut_mode(),
            None,
            "clients still reach node {j}"
        );
        assert_eq!(
            c.inbound(j).source_cut(2),
            bh,
            "node 2 does not reach node {j}"
        );
        assert_eq!(c.inbound(j).source_cut(1 + 3 - j), None);
        assert_eq!(c.link(2, j).cut_mode(), bh);
        assert_eq!(c.link(j, 2).cut_mode(), bh);
    }
    assert_eq!(c.link(1, 3).cut_mode(), None);
    assert_eq!(c.link(3, 1).cut_mode(), None);

    // A second isolated node; healing the first keeps the second's cuts.
    c.isolate(3);
    c.heal(2);
    assert_eq!(c.inbound(2).cut_mode(), None);
    assert_eq!(c.inbound(2).source_cut(3), bh);
    assert_eq!(c.inbound(1).source_cut(2), None);
    assert_eq!(c.link(1, 2).cut_mode(), None);
    assert_eq!(c.link(2, 3).cut_mode(), bh);
    assert_eq!(c.link(1, 3).cut_mode(), bh);
    c.heal(3);
    for i in c.ids() {
        assert_eq!(c.inbound(i).cut_mode(), None);
        for j in c.ids() {
            assert_eq!(c.inbound(i).source_cut(j), None);
            if i != j {
                assert_eq!(c.link(i, j).cut_mode(), None);
            }
        }
    }
}
