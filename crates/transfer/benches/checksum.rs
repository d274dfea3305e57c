//! Per-chunk checksum throughput (512-byte chunks over a 64 KiB packet) for
//! CRC32C (`crc32c`) and CRC32 (`crc32fast`), beside a memcpy of the same
//! buffer as the baseline; and CRC32C verify of the same packet through
//! `DataChecksum::verify` (three chunks at once on SSE4.2) against a plain
//! per-chunk loop over the `crc32c` crate.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrodfs_transfer::checksum::{ChecksumType, DataChecksum};

const PACKET: usize = 64 * 1024;

fn bench(c: &mut Criterion) {
    let data: Vec<u8> = (0..PACKET).map(|i| (i * 31 + 7) as u8).collect();
    let mut g = c.benchmark_group("checksum_64KiB_512B_chunks");
    g.throughput(Throughput::Bytes(PACKET as u64));
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));

    let mut dst = vec![0u8; PACKET];
    g.bench_function("memcpy (baseline)", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&data));
            black_box(&dst);
        })
    });
    for kind in [ChecksumType::Crc32c, ChecksumType::Crc32] {
        let sum = DataChecksum::new(kind, 512).unwrap();
        let mut out = vec![0u8; sum.checksums_len(PACKET)];
        g.bench_function(format!("{} compute", kind.name()), |b| {
            b.iter(|| {
                sum.compute_into(black_box(&data), &mut out).unwrap();
                black_box(&out);
            })
        });
        let sums = sum.compute(&data);
        g.bench_function(format!("{} verify", kind.name()), |b| {
            b.iter(|| sum.verify(black_box(&data), black_box(&sums), 0).unwrap())
        });
    }
    g.finish();

    let sum = DataChecksum::new(ChecksumType::Crc32c, 512).unwrap();
    let sums = sum.compute(&data);
    let mut g = c.benchmark_group("verify_64KiB_CRC32C_512");
    g.throughput(Throughput::Bytes(PACKET as u64));
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    g.bench_function("per-chunk crc32c crate (baseline)", |b| {
        b.iter(|| {
            let ok = black_box(&data)
                .chunks(512)
                .zip(black_box(&sums).chunks_exact(4))
                .all(|(chunk, s)| {
                    crc32c::crc32c(chunk) == u32::from_be_bytes([s[0], s[1], s[2], s[3]])
                });
            assert!(ok);
        })
    });
    g.bench_function("batched (DataChecksum::verify)", |b| {
        b.iter(|| sum.verify(black_box(&data), black_box(&sums), 0).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
