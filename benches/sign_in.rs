//! What a failed password sign-in costs, for a name that has a password and for one nobody can
//! sign in as: both check the password against an argon2id hash made the same way (the latter
//! against a decoy), so the two should take the same time, and the answer's timing says nothing
//! about whether the name exists. `cargo bench --bench sign_in --features ssr`; the figures are
//! in docs/BENCHMARKS.md.

use std::hint::black_box;

use chinwag::server::accounts::password;
use criterion::{criterion_group, criterion_main, Criterion};

fn sign_in(c: &mut Criterion) {
    let Some(real) = password::hash("the person's real password") else {
        return;
    };
    // The decoy is made once, on first use: not part of what is measured.
    black_box(password::verify("warm-up", None));
    let mut group = c.benchmark_group("failed sign-in");
    group.sample_size(30);
    group.bench_function("a name with a password, a wrong one", |b| {
        b.iter(|| password::verify(black_box("a wrong guess"), Some(black_box(&real))));
    });
    group.bench_function("a name nobody can sign in as", |b| {
        b.iter(|| password::verify(black_box("a wrong guess"), None));
    });
    group.finish();
}

criterion_group!(benches, sign_in);
criterion_main!(benches);
