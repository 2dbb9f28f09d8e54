#!/usr/bin/env bash
# Command-line tests of the real executable: exit codes, one-line errors, and a small seed
# tutorial end to end on 1 and 2 ranks (files identical across rank counts, logprob consistent
# with sample). Cases, run by run_case.sh (ctest: cli.cli.CASE): the functions case_NAME below;
# setup makes the shared inputs (data2.h5, cfg.toml, a model trained on 2 ranks in out/ with its
# samples and log densities).

# expect_error NAME CODE PATTERN -- command...: exit code, exactly one "gwflow: error:" line
# matching PATTERN, and no crash or HDF5 dump.
expect_error() {
  local name=$1 code=$2 pattern=$3
  shift 4
  "$@" >out.txt 2>err.txt
  local rc=$?
  local n
  n=$(grep -c '^gwflow: error:' err.txt)
  if [ "$rc" -ne "$code" ]; then fail "$name: exit $rc, expected $code"; cat err.txt; return; fi
  if [ "$n" -ne 1 ]; then fail "$name: $n error lines"; cat err.txt; return; fi
  if ! grep -q -- "$pattern" err.txt; then fail "$name: error does not match '$pattern'"; cat err.txt; return; fi
  if grep -qE 'HDF5-DIAG|terminate called|Segmentation|Traceback|Exception raised' err.txt; then
    fail "$name: crash or library dump"; cat err.txt; return
  fi
  pass "$name"
}

setup() {
  mpi2 "$GWFLOW" make-data seed-tutorial --n 6000 --seed 3 --out data2.h5 >/dev/null || fail "make-data (2 ranks)"
  cat > cfg.toml <<'TOML'
[data]
train = "data2.h5:/x"
[model]
n_layers = 2
hidden_features = 5
[training]
iterations = 40
batch_size = 1000
learning_rate = 3e-3
validation_step = 10
[output]
dir = "out"
[sample]
weights = "out/weights.zip"
n = 5000
seed = 9
out = "out/samples.h5"
block_size = 700
dtype = "float64"
[logprob]
weights = "out/weights.zip"
input = "out/samples.h5:/samples"
out = "out/logprob.h5"
dtype = "float64"
TOML
  if mpi2 "$GWFLOW" train cfg.toml >train.txt 2>train.err && [ -f out/weights.zip ] && [ -f out/history.h5 ]; then
    pass train-2-ranks
  else
    fail train-2-ranks; cat train.txt train.err
  fi
  grep -q 'HDF5-DIAG' train.err && fail "train printed an HDF5 dump"
  # out/samples.h5 and out/logprob.h5: outputs of the model for the cases that inspect or reuse them.
  mpi2 "$GWFLOW" sample cfg.toml >/dev/null 2>s.err || { fail "sample (2 ranks)"; cat s.err; }
  mpi2 "$GWFLOW" logprob cfg.toml >/dev/null 2>l.err || { fail "logprob (2 ranks)"; cat l.err; }
}

# --version, --help, and the errors of an unknown command or option.
case_usage() {
  "$GWFLOW" --version | grep -q '^gwflow [0-9]' && pass version || fail version
  "$GWFLOW" --help | grep -q 'usage: gwflow' && pass help || fail help
  "$GWFLOW" train --help | grep -q 'gwflow train CONFIG' && pass train-help || fail train-help
  expect_error unknown-command 2 "unknown command 'bogus'" -- "$GWFLOW" bogus
  expect_error unknown-option 2 "unknown option '--frobnicate'" -- "$GWFLOW" train x.toml --frobnicate
}

# make-data: the same file from 1 and 2 ranks; bad arguments and outputs refused.
case_make_data() {
  expect_error make-data-bad-n 2 "\-\-n must be an integer" -- "$GWFLOW" make-data seed-tutorial --n ten --seed 0 --out d.h5
  "$GWFLOW" make-data seed-tutorial --n 6000 --seed 3 --out data1.h5 >/dev/null && pass make-data-1 || fail make-data-1
  mpi2 "$GWFLOW" make-data seed-tutorial --n 6000 --seed 3 --out data2b.h5 >/dev/null && pass make-data-2 || fail make-data-2
  cmp -s <(h5dump -d /x data1.h5 | tail -n +3) <(h5dump -d /x data2b.h5 | tail -n +3) && pass make-data-rank-independent \
    || fail make-data-rank-independent
  expect_error make-data-too-many-rows 2 "must be <=" -- "$GWFLOW" make-data seed-tutorial --n 99999999999 --seed 0 --out x.h5
  expect_error make-data-into-a-directory 1 'out: is a directory' -- \
    "$GWFLOW" make-data seed-tutorial --n 10 --seed 0 --out out
  [ ! -e out.partial ] && pass "no out.partial left" || fail "make-data into a directory left out.partial"
}

# train: config and --set errors name the file, line and key; a failed --restart creates nothing.
case_train_config_errors() {
  expect_error missing-config 1 "nothere.toml" -- "$GWFLOW" train nothere.toml
  printf '[training]\nlearning_rat = 0.1\n' > typo.toml
  expect_error unknown-key 1 "typo.toml:2:1: unknown key 'training.learning_rat'" -- "$GWFLOW" train typo.toml
  printf '[training]\niterations = "many"\n' > type.toml
  expect_error wrong-type 1 "type.toml:2:14: training.iterations must be an integer" -- mpi2 "$GWFLOW" train type.toml
  expect_error bad-set 1 "\-\-set training.iterations=abc" -- "$GWFLOW" train cfg.toml --set training.iterations=abc
  expect_error missing-data 1 "nodata.h5" -- mpi2 "$GWFLOW" train cfg.toml --set 'data.train="nodata.h5:/x"'
  expect_error missing-dataset 1 "data2.h5:/y" -- mpi2 "$GWFLOW" train cfg.toml --set 'data.train="data2.h5:/y"'
  expect_error dim-mismatch 1 "data.boundaries has 3 dimensions" -- \
    mpi2 "$GWFLOW" train cfg.toml --set 'data.boundaries=[[0,0,0],[1,1,1]]'
  expect_error restart-without-checkpoint 1 "no checkpoint in" -- "$GWFLOW" train cfg.toml --restart \
    --set 'output.dir="empty"'
  [ ! -e empty ] && pass "a failed --restart creates no output folder" || fail "a failed --restart left empty/ behind"
}

# "cuda" without a GPU: a clear error before any output (folder, file or .partial) exists.
case_cuda_without_gpu() {
  expect_error cuda-without-gpu 1 'training.device = "cuda": this LibTorch has no CUDA support' -- \
    mpi2 "$GWFLOW" train cfg.toml --set 'training.device="cuda"'
  expect_error cuda-train-leaves-nothing 1 'training.device = "cuda"' -- \
    "$GWFLOW" train cfg.toml --set 'training.device="cuda"' --set 'output.dir="cuda_t"'
  expect_error cuda-sample-leaves-nothing 1 'sample.device = "cuda"' -- \
    "$GWFLOW" sample cfg.toml --set 'sample.device="cuda"' --set 'sample.out="cuda_s/s.h5"'
  expect_error cuda-logprob-leaves-nothing 1 'logprob.device = "cuda"' -- \
    "$GWFLOW" logprob cfg.toml --set 'logprob.device="cuda"' --set 'logprob.out="cuda_l/l.h5"'
  for d in cuda_t cuda_s cuda_l; do [ ! -e "$d" ] || fail "device = cuda without a GPU left $d behind"; done
}

# info: the trained model, mbank's own weights files (torch.save of an OrderedDict, read
# directly), and a missing file or a directory refused.
case_info() {
  "$GWFLOW" info out/weights.zip | grep -q 'D=2, n_layers=2, hidden=\[5, 5\]' && pass info || fail info
  "$GWFLOW" info "$DATA/std_D3_L2_H10-5.weights.zip" >info.txt 2>&1 && grep -q 'D=3, n_layers=2, hidden=\[10, 5\]' info.txt \
    && grep -q '^constant:' info.txt && pass info-mbank-ordereddict || { fail info-mbank-ordereddict; cat info.txt; }
  expect_error missing-weights 1 "nothing.zip" -- "$GWFLOW" info nothing.zip
  expect_error weights-is-a-directory 1 'out: is a directory' -- "$GWFLOW" info out
}

# sample on 2 ranks (blocks of 700) and on 1 rank (blocks of 4096): the same file; logprob on 2
# ranks reproduces the samples' log densities.
case_sample_logprob_ranks() {
  mpi2 "$GWFLOW" sample cfg.toml --set 'sample.out="samples2.h5"' >/dev/null 2>s.err && pass sample-2-ranks \
    || { fail sample-2-ranks; cat s.err; }
  "$GWFLOW" sample cfg.toml --set sample.block_size=4096 --set 'sample.out="out/samples1.h5"' >/dev/null 2>s.err \
    && pass sample-1-rank || { fail sample-1-rank; cat s.err; }
  mpi2 "$GWFLOW" logprob cfg.toml --set 'logprob.input="samples2.h5:/samples"' --set 'logprob.out="logprob2.h5"' \
    >/dev/null 2>l.err && pass logprob-2-ranks || { fail logprob-2-ranks; cat l.err; }
  "$PY" - <<'PY' && pass "sample/logprob consistency" || fail "sample/logprob consistency"
import h5py, numpy as np, sys
a = h5py.File("samples2.h5", "r"); b = h5py.File("out/samples1.h5", "r"); l = h5py.File("logprob2.h5", "r")
assert a["samples"].shape == (5000, 2) and a["log_prob"].shape == (5000,)
assert np.array_equal(a["samples"][:], b["samples"][:]), "1-rank and 2-rank samples differ"
assert np.array_equal(a["log_prob"][:], b["log_prob"][:]), "1-rank and 2-rank log_prob differ"
for key in ("weights_sha256", "seed", "dtype", "gwflow_version", "config"):
    assert key in a.attrs, key
assert np.all(np.isfinite(a["log_prob"][:]))
lp_s, lp_l = a["log_prob"][:], l["log_prob"][:]
ok = np.isfinite(lp_l)   # samples on the box edge (saturated tanh) cannot be re-evaluated
assert ok.mean() > 0.99, ok.mean()
err = np.max(np.abs(lp_s[ok] - lp_l[ok]) / np.maximum(1, np.abs(lp_s[ok])))
assert err < 1e-8, err
PY
}

# Outputs are never clobbered by mistake: a sample that fails before its first block (no candidate
# in the box) leaves nothing worth keeping, so the corrected rerun needs no --overwrite; logprob
# refuses to overwrite its input; a foreign file is replaced only with --overwrite.
case_output_protection() {
  expect_error sample-empty-box 1 'fell strictly inside sample.boundaries' -- \
    "$GWFLOW" sample cfg.toml --set 'sample.boundaries=[[100,100],[101,101]]' --set 'sample.out="box/s.h5"'
  "$GWFLOW" sample cfg.toml --set 'sample.out="box/s.h5"' >/dev/null 2>b.err && [ -f box/s.h5 ] \
    && pass "rerun after a sample that wrote nothing" || { fail "rerun after a sample that wrote nothing"; cat b.err; }
  expect_error logprob-out-is-input 1 'is the input file' -- \
    "$GWFLOW" logprob cfg.toml --set 'logprob.out="out/samples.h5"' --overwrite
  "$PY" -c 'import h5py; assert h5py.File("out/samples.h5", "r")["samples"].shape == (5000, 2)' \
    && pass "the input survives" || fail "logprob --overwrite destroyed its input"
  echo "garbage" > junk.h5
  expect_error foreign-output 1 'junk.h5 exists and is not a readable HDF5 file' -- \
    "$GWFLOW" sample cfg.toml --set 'sample.out="junk.h5"'
  "$GWFLOW" sample cfg.toml --set 'sample.out="junk.h5"' --overwrite >/dev/null 2>j.err \
    && pass "--overwrite replaces a foreign file" || { fail "--overwrite on a foreign file"; cat j.err; }
}

# Ctrl+C (SIGINT) stops cleanly after the current iteration, exit 0, outputs written.
case_sigint() {
  "$GWFLOW" train cfg.toml --set training.iterations=1000000 --set output.dir=intr >int.txt 2>int.err &
  local pid=$!
  for _ in $(seq 1 100); do grep -q 'iter' int.txt 2>/dev/null && break; sleep 0.2; done
  kill -INT $pid
  wait $pid
  local rc=$?
  if [ $rc -eq 0 ] && [ -f intr/weights.zip ] && grep -q 'stopped by SIGINT' int.txt; then pass sigint; else
    fail "sigint (exit $rc)"; cat int.txt int.err; fi
}

# Weights files: errors name the config key and the file; one flipped bit in a tensor record is
# refused (CRC-32) before any output exists; a wrong-shaped tensor given as model.init names it.
case_bad_weights_files() {
  "$PY" - <<'PY' || fail "weights fault files"
import zipfile
z = zipfile.ZipFile("out/weights.zip")
info = z.getinfo("weights/data/3")
data = bytearray(open("out/weights.zip", "rb").read())
start = info.header_offset + 30 + len(info.filename.encode()) + int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
data[start + 1] ^= 0x04
open("flipped.zip", "wb").write(bytes(data))
PY
  "$PY" - <<'PY' || fail "weights with a wrong-shaped tensor"
# The same archive with the first NaiveLinear weight viewed as [1, 2] instead of [2, 2] (still
# inside its storage, valid CRCs): only the shape check can refuse it.
import zipfile
src = zipfile.ZipFile("out/weights.zip")
pkl = src.read("weights/data.pkl")
at = pkl.index(b"_transform._transforms.1._weight")
size = pkl.index(b"K\x02K\x02\x86", at)
pkl = pkl[:size] + b"K\x01" + pkl[size + 2:]
with zipfile.ZipFile("shape.zip", "w", zipfile.ZIP_STORED) as dst:
    for name in src.namelist():
        dst.writestr(name, pkl if name == "weights/data.pkl" else src.read(name))
PY
  expect_error model-init-wrong-shape 1 "model.init = shape.zip: parameter '_transform._transforms.1._weight' has shape \[1, 2\], expected \[2, 2\]" -- \
    "$GWFLOW" train cfg.toml --set 'model.init="shape.zip"' --set 'output.dir="shape"'
  expect_error sample-weights-bad-crc 1 "sample.weights = flipped.zip: zip record 'weights/data/3' is corrupt (CRC-32 mismatch)" -- \
    "$GWFLOW" sample cfg.toml --set 'sample.weights="flipped.zip"' --set 'sample.out="flip.h5"'
  [ ! -e flip.h5 ] && [ ! -e flip.h5.partial ] && pass "a corrupt weights file leaves no sample output" \
    || fail "a corrupt weights file left a sample output"
  expect_error logprob-weights-missing 1 "logprob.weights = gone.zip: " -- \
    "$GWFLOW" logprob cfg.toml --set 'logprob.weights="gone.zip"' --set 'logprob.out="gone.h5"'
  expect_error model-init-architecture 1 "model.init = $DATA/std_D3_L2_H10-5.weights.zip holds D=3" -- \
    "$GWFLOW" train cfg.toml --set "model.init=\"$DATA/std_D3_L2_H10-5.weights.zip\"" --set 'output.dir="init"' --overwrite
}

# Outputs describe themselves to h5py: str attributes, format_version, the history's provenance.
case_self_describing_outputs() {
  "$PY" - <<'PY' && pass "self-describing outputs" || fail "self-describing outputs"
import h5py
for path in ["out/samples.h5", "out/logprob.h5", "out/history.h5"]:
    f = h5py.File(path, "r")
    assert f.attrs["format_version"] == 1, path
    for k, v in f.attrs.items():
        assert not isinstance(v, bytes), (path, k)
h = h5py.File("out/history.h5", "r")
assert h.attrs["gwflow_version"] and "[training]" in h.attrs["config"]
assert isinstance(h5py.File("out/samples.h5", "r").attrs["config"], str)
PY
}

# import-dataset: mbank dataset rows [x, metric, log_pdf] -> HDF5; rank 0 writes, NaN rows
# dropped; wrong column counts, a missing --dim and control bytes are one-line errors.
case_import_dataset() {
  printf '# x0 x1 metric(4) log_pdf\n1 2 1 0 0 1 -1\nnan 2 1 0 0 1 -1\n\n3 4 2 0 0 2 -2\n' > bank.txt
  if mpi2 "$GWFLOW" import-dataset bank.txt --dim 2 --out imp/bank.h5 >imp.txt 2>imp.err \
    && grep -q 'metric (2x2)' imp.txt && grep -q '1 with NaN dropped' imp.txt; then
    pass import-dataset-2-ranks
  else
    fail import-dataset-2-ranks; cat imp.txt imp.err
  fi
  "$PY" - <<'PY' && pass "import-dataset contents" || fail "import-dataset contents"
import h5py, numpy as np
f = h5py.File("imp/bank.h5", "r")
assert np.array_equal(f["x"][:], [[1, 2], [3, 4]]), f["x"][:]
assert np.array_equal(f["metric"][:], [[[1, 0], [0, 1]], [[2, 0], [0, 2]]]), f["metric"][:]
assert np.array_equal(f["log_pdf"][:], [-1, -2]), f["log_pdf"][:]
assert f["x"].dtype == np.float64 and f.attrs["rows_with_nan_dropped"] == 1
PY
  expect_error import-dataset-columns 1 "bank.txt:2: 7 columns, but --dim 3 needs 4 (x, log_pdf) or 13" -- \
    mpi2 "$GWFLOW" import-dataset bank.txt --dim 3 --out imp/bad.h5
  [ ! -e imp/bad.h5 ] && [ ! -e imp/bad.h5.partial ] && pass import-dataset-no-output || fail import-dataset-no-output
  expect_error import-dataset-no-dim 2 "\-\-dim D is required" -- "$GWFLOW" import-dataset bank.txt --out imp/x.h5
  printf '1 2 3\n4 \001\000x 6\n' > ctrl.txt
  expect_error import-control-bytes 1 "ctrl.txt:2: column 2: '??x' is not a number" -- \
    "$GWFLOW" import-dataset ctrl.txt --dim 2 --out ctrl.h5
}

# Column names: mbank's variable format travels from the dataset header through import-dataset into
# logprob's output, data.columns into both sample and logprob files; a wrong count is refused.
case_column_names() {
  printf '# variable format: Mq\n# theta (2,) | log_pdf (1,) \n1.5 0.5 -1\n2.5 0.25 -2\n' > vf.txt
  "$GWFLOW" import-dataset vf.txt --dim 2 --out imp/vf.h5 >/dev/null 2>vf.err || { fail import-variable-format; cat vf.err; }
  if "$GWFLOW" logprob cfg.toml --set 'logprob.input="imp/vf.h5:/x"' --set 'logprob.out="vf_lp.h5"' \
       --set 'data.columns=["M", "q"]' >/dev/null 2>vf.err &&
     "$GWFLOW" sample cfg.toml --set 'sample.out="vf_s.h5"' --set 'sample.n=100' \
       --set 'data.train="imp/vf.h5:/x"' --set 'data.columns=["M", "q"]' >/dev/null 2>>vf.err; then
    "$PY" - <<'PY' && pass "column names carried into outputs" || fail "column names carried into outputs"
import h5py
assert h5py.File("imp/vf.h5", "r").attrs["variable_format"] == "Mq"
for path in ["vf_lp.h5", "vf_s.h5"]:
    f = h5py.File(path, "r")
    assert list(f.attrs["columns"]) == ["M", "q"], (path, f.attrs["columns"])
    assert f.attrs["variable_format"] == "Mq", path
assert "columns" not in h5py.File("out/samples.h5", "r").attrs
PY
  else
    fail "column names carried into outputs"; cat vf.err
  fi
  expect_error columns-count 1 "data.columns has 3 names but the flow in out/weights.zip has D = 2" -- \
    "$GWFLOW" sample cfg.toml --set 'sample.out="vf3.h5"' --set 'data.columns=["a", "b", "c"]'
}
