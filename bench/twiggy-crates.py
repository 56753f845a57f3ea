#!/usr/bin/env python3
"""Sums `twiggy top --format csv` by crate: where the wasm's bytes go.

Only what is shipped is counted: the names section, custom sections and wasm-bindgen's descriptor
functions, which wasm-bindgen and wasm-opt remove, are left out. A function is counted under the crate that its name starts with, so a generic instance counts under
the crate that defines it (`<tachys::...::HtmlElement<..> as tachys::view::Render>::build` is
tachys), and an `impl Trait for Type` under the type's crate. Data segments and unnamed items are
shown on their own.

Usage: twiggy-crates.py twiggy.csv
"""
import csv
import re
import sys
from collections import Counter

ROWS = 25


PATH = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[[0-9a-f]+\])?::")
PRIMITIVES = {"str", "bool", "char", "f32", "f64", "u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32",
              "i64", "isize", "u128", "i128"}


def crate_of(name: str) -> str | None:
    """The crate a wasm item belongs to; None for what is not shipped (names, custom sections)."""
    if name.startswith('"function names"') or name.startswith("custom section"):
        return None
    # wasm-bindgen's descriptors are read and removed by wasm-bindgen itself.
    if "__wbindgen_describe" in name:
        return None
    if name.startswith('data segment ".rodata"'):
        return "(read-only data: strings, tables)"
    if name.startswith("data["):
        return "(data segments)"
    if name.startswith("code["):
        return "(unnamed functions)"
    if name.startswith("import "):
        return "(imports)"
    head = name.lstrip("<&*( ")
    for prefix in ("dyn ", "mut ", "const "):
        if head.startswith(prefix):
            head = head[len(prefix):]
    m = PATH.match(head)
    if m:
        return m.group(1)
    # `<Type as some_crate::Trait>::f` with a type named without its path: the trait's crate.
    word = re.match(r"[A-Za-z_][A-Za-z0-9_]*", head)
    if word and word.group(0) in PRIMITIVES or head.startswith("["):
        return "core"
    as_trait = re.search(r" as (?:dyn )?([A-Za-z_][A-Za-z0-9_]*)(?:\[[0-9a-f]+\])?::", name)
    if as_trait:
        return as_trait.group(1)
    return "(other: tables, types, exports)"


def main() -> None:
    sizes: Counter = Counter()
    counts: Counter = Counter()
    total = 0
    with open(sys.argv[1], newline="") as f:
        reader = csv.DictReader(f)
        size_col = next(c for c in reader.fieldnames if c.lower().startswith("shallowsize") and "percent" not in c.lower())
        name_col = next(c for c in reader.fieldnames if c.lower() in ("name", "item"))
        for row in reader:
            name = row[name_col]
            if name.startswith("Σ"):
                continue
            size = int(row[size_col])
            crate = crate_of(name)
            if crate is None:
                continue
            sizes[crate] += size
            counts[crate] += 1
            total += size
    print(f"{'crate':<34} {'bytes':>10} {'share':>7} {'items':>7}")
    for crate, size in sizes.most_common(ROWS):
        print(f"{crate:<34} {size:>10,} {100 * size / total:>6.1f}% {counts[crate]:>7,}")
    rest = sum(size for crate, size in sizes.most_common()[ROWS:])
    if rest:
        print(f"{'(the rest)':<34} {rest:>10,} {100 * rest / total:>6.1f}%")
    print(f"{'total':<34} {total:>10,}")


if __name__ == "__main__":
    main()
