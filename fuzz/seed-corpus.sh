#!/usr/bin/env bash
# Seed each cargo-fuzz target's corpus from testdata/fuzz-seeds and the bad-input corpus.
set -euo pipefail
cd "$(dirname "$0")"
S=../testdata/fuzz-seeds
mk() { mkdir -p "corpus/$1"; }
mk preset_spec; while IFS= read -r l; do printf '%s' "$l" > "corpus/preset_spec/$(printf '%s' "$l" | md5sum | cut -c1-16)"; done < $S/specs.txt
mk cluster_toml; cp $S/cluster.toml corpus/cluster_toml/; for f in ../crates/fabric/presets/*.toml; do cp "$f" corpus/cluster_toml/; done
mk scenario_toml; cp $S/scenario.toml $S/scenario-inline.toml ../examples/*.toml corpus/scenario_toml/
mk hf_config; cp $S/config.json $S/config-moe.json corpus/hf_config/
mk validation_csv; { printf '\0'; cat ../testdata/training.csv; } > corpus/validation_csv/training; { printf '\1'; cat ../testdata/collectives.csv; } > corpus/validation_csv/collectives
mk placement; cp $S/placement.txt corpus/placement/
mk calibration; { cat $S/gemm.csv; printf '\0'; cat $S/attention.csv; printf '\0'; cat $S/memory.csv; } > corpus/calibration/seed
echo "corpora seeded under fuzz/corpus/"
