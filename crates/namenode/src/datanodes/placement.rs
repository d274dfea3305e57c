//! Replica placement: pick N distinct live DataNodes for a new block or a re-replication.
//!
//! Order of preference: favoured nodes (in the order given), then the writer's own node
//! (matched by IP), then the remaining candidates least-loaded first (fewest blocks
//! scheduled, then most space), starting from a rotating offset so equal nodes share the
//! load. Excluded nodes, nodes already holding the block, dead nodes and nodes without room
//! for a block are never chosen. There is no rack awareness (one default rack).

use super::DatanodeManager;

/// What to place.
#[derive(Debug, Clone, Default)]
pub struct PlacementRequest<'a> {
    /// How many targets are wanted.
    pub count: usize,
    /// The writer's address (`clientMachine`); its node is preferred.
    pub writer_ip: Option<&'a str>,
    /// Nodes not to use: uuid or `ip:xferPort`.
    pub excluded: &'a [String],
    /// Nodes to use first: uuid or `ip:xferPort`.
    pub favored: &'a [String],
    /// Nodes that already hold the block (node indices).
    pub existing: &'a [u32],
    /// Space a target needs (one block).
    pub block_size: u64,
}

fn names(m: &DatanodeManager, ix: u32, list: &[String]) -> bool {
    m.node(ix).is_some_and(|n| {
        list.iter()
            .any(|e| *e == n.id.uuid || *e == n.id.xfer_addr() || *e == n.id.host_name)
    })
}

impl DatanodeManager {
    /// Chooses up to `req.count` node indices (fewer if not enough qualify).
    pub fn choose_targets(&mut self, req: &PlacementRequest<'_>) -> Vec<u32> {
        let start = self.next_cursor();
        let eligible = |m: &DatanodeManager, ix: u32| {
            m.node(ix).is_some_and(|n| {
                n.alive
                    // A node that has not reported capacity yet is given the benefit of doubt.
                    && (n.capacity == 0 || n.remaining >= req.block_size)
                    && !req.existing.contains(&ix)
                    && !names(m, ix, req.excluded)
            })
        };
        // `req.count` may come from a peer: reserve no more than there are nodes.
        let mut chosen: Vec<u32> = Vec::with_capacity(req.count.min(self.nodes.len()));
        let all: Vec<u32> = self.nodes().map(|(ix, _)| ix).collect();
        for f in req.favored {
            if chosen.len() == req.count {
                break;
            }
            if let Some(&ix) = all
                .iter()
                .find(|&&ix| names(self, ix, std::slice::from_ref(f)))
            {
                if eligible(self, ix) && !chosen.contains(&ix) {
                    chosen.push(ix);
                }
            }
        }
        if let Some(ip) = req.writer_ip {
            if chosen.len() < req.count {
                if let Some(&ix) = all.iter().find(|&&ix| {
                    self.node(ix).is_some_and(|n| n.id.ip_addr == ip)
                        && eligible(self, ix)
                        && !chosen.contains(&ix)
                }) {
                    chosen.push(ix);
                }
            }
        }
        let n = all.len().max(1);
        let mut rest: Vec<u32> = (0..all.len())
            .map(|k| all[(start + k) % n])
            .filter(|&ix| eligible(self, ix) && !chosen.contains(&ix))
            .collect();
        // Stable sort keeps the rotated order among equally loaded nodes.
        rest.sort_by_key(|&ix| {
            self.node(ix).map_or((u32::MAX, 0), |n| {
                (n.blocks_scheduled, u64::MAX - n.remaining)
            })
        });
        for ix in rest {
            if chosen.len() == req.count {
                break;
            }
            chosen.push(ix);
        }
        for &ix in &chosen {
            if let Some(n) = self.node_mut(ix) {
                n.blocks_scheduled += 1;
            }
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::dn_id;
    use super::*;
    use std::time::{Duration, Instant};

    fn cluster(n: u8) -> DatanodeManager {
        let mut m = DatanodeManager::default();
        for i in 1..=n {
            m.register(dn_id(i), Instant::now());
        }
        m
    }

    #[test]
    fn distinct_nodes_and_writer_first() {
        let mut m = cluster(4);
        let t = m.choose_targets(&PlacementRequest {
            count: 3,
            writer_ip: Some("127.0.0.3"),
            block_size: 1,
            ..Default::default()
        });
        assert_eq!(t.len(), 3);
        assert_eq!(t[0], 2);
        let mut d = t.clone();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), 3);
    }

    #[test]
    fn honours_excluded_favored_existing_and_liveness() {
        let mut m = cluster(4);
        let excluded = vec!["dn-1".to_owned(), "127.0.0.2:9866".to_owned()];
        let favored = vec!["dn-4".to_owned()];
        let t = m.choose_targets(&PlacementRequest {
            count: 3,
            excluded: &excluded,
            favored: &favored,
            block_size: 1,
            ..Default::default()
        });
        assert_eq!(t, vec![3, 2]);
        let t = m.choose_targets(&PlacementRequest {
            count: 3,
            existing: &[0, 1],
            block_size: 1,
            ..Default::default()
        });
        assert_eq!(t.len(), 2);
        assert!(!t.contains(&0) && !t.contains(&1));
        m.expire(
            Instant::now() + Duration::from_secs(10),
            Duration::from_secs(1),
        );
        let t = m.choose_targets(&PlacementRequest {
            count: 3,
            block_size: 1,
            ..Default::default()
        });
        assert!(t.is_empty());
    }

    #[test]
    fn spreads_load() {
        let mut m = cluster(3);
        let mut counts = [0; 3];
        for _ in 0..30 {
            for ix in m.choose_targets(&PlacementRequest {
                count: 1,
                block_size: 1,
                ..Default::default()
            }) {
                counts[ix as usize] += 1;
            }
        }
        assert_eq!(counts, [10, 10, 10]);
    }
}
