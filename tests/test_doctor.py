"""``ecmiip doctor``: the advice rules on synthetic machines, the probes' parsers, and one real probe here."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import stat
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ecmiip.pipeline import advice, doctor, doctor_cli
from ecmiip.pipeline.advice import (
    GB,
    QWEN3_4B,
    QWEN3_4B_BYTES,
    advise,
    largest_fitting,
    llama_settings,
)
from ecmiip.pipeline.doctor import (
    GPU,
    GPUs,
    LlamaBuild,
    MachineProfile,
    Memory,
    Ollama,
    RecipeNeed,
    Statutes,
    Training,
)
from tests.netguard import no_network

GiB = 2**30
RECIPES = (RecipeNeed("demo-cpu", False), RecipeNeed("qwen3-4b", True, 24.0), RecipeNeed("tiny-cpu", False))
CPU_BUILD = LlamaBuild("0.3.36", False, (), ("AVX2", "FMA"), "CPU : AVX2 = 1 | FMA = 1 |")
CUDA_BUILD = LlamaBuild("0.3.36", True, ("CUDA",), ("AVX2",), "CUDA : ARCHS = 890 | CPU : AVX2 = 1 |")
METAL_BUILD = LlamaBuild("0.3.36", True, ("Metal",), ("NEON", "ARM_FMA"), "Metal : EMBED_LIBRARY = 1 | CPU : NEON = 1 |")
CPU_TRAINING = Training("2.13.0", False, None, "0.50.2", True, "cpu")
CUDA_TRAINING = Training("2.13.0", True, "12.8", "0.50.2", True, "cuda")


def machine(*, total_gb: float = 16, free_gb: float = 10, gpus: tuple[GPU, ...] = (), llama: LlamaBuild = CPU_BUILD,
            unified: bool = False, training: Training = CPU_TRAINING, ollama: Ollama | None = None,
            statutes: Statutes | None = None, system: str = "Linux") -> MachineProfile:
    """A synthetic machine: only the figures a rule reads are chosen by the test."""
    return MachineProfile(
        probed_on=date(2026, 12, 1), system=system, machine="arm64" if unified else "x86_64", python="3.11",
        llama=llama, memory=Memory(int(total_gb * GB), int(free_gb * GB), 8, unified, "test"),
        gpus=GPUs(gpus, "torch" if gpus else ""), disks=(doctor.Disk("cwd", "/x", 100 * GB),),
        training=training, ollama=ollama or Ollama(), recipes=RECIPES,
        statutes=statutes or Statutes(date(2026, 11, 29), ("《专利法》（2008修正）",), ()),
    )


def cuda_gpu(total_gb: float, free_gb: float | None = None, cc: float = 8.9, name: str = "NVIDIA RTX") -> GPU:
    return GPU(name, int(total_gb * GB), int((free_gb if free_gb is not None else total_gb - 0.4) * GB), cc)


def text(a: advice.Advice) -> str:
    return "\n".join(a.recommendations + a.warnings)


# ---------------------------------------------------------------- the model figures


def test_kv_cache_and_sizes_are_the_stated_figures():
    assert QWEN3_4B.kv_bytes_per_token == 2 * 36 * 8 * 128 * 2 == 147_456
    assert 2.3 * GB < QWEN3_4B_BYTES["Q4_K_M"] < 2.6 * GB  # ≈ 2.5 GB
    sizes = [QWEN3_4B_BYTES[q] for q in ("Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "F16")]
    assert sizes == sorted(sizes)


# ---------------------------------------------------------------- quants, layers, context


def test_cpu_only_8gb_laptop():
    a = advise(machine(total_gb=8, free_gb=5.5))
    assert (a.quant, a.n_gpu_layers, a.runs_well) == ("Q4_K_M", 0, True)
    assert a.num_ctx == 4096  # 0.75 × 5.5 GB − 2.46 GB weights − overhead ≈ 1 GB of cache ≈ 6,900 tokens
    assert "no GPU layers" in text(a)
    assert a.training_possible and a.training_recipe == "demo-cpu"
    assert "CPU only" in text(a) and "demo" in text(a)


def test_cpu_with_plenty_of_ram_keeps_the_fast_quant_and_names_the_larger_one():
    a = advise(machine(total_gb=64, free_gb=48))
    assert a.quant == "Q4_K_M" and a.n_gpu_layers == 0 and a.num_ctx == 32768  # capped
    assert "answers fastest" in text(a) and "Q8_0 (~4.3 GB) also fits in RAM" in text(a)


def test_16gb_with_an_8gb_cuda_gpu_offloads_everything():
    p = machine(total_gb=16, free_gb=11, gpus=(cuda_gpu(8.0, 7.6),), llama=CUDA_BUILD, training=CUDA_TRAINING)
    a = advise(p)
    assert a.quant == "Q8_0"  # 4.3 GB + an 8K cache + buffers fit in 7.6 GB less the reserve
    assert a.n_gpu_layers == -1 and a.num_ctx == 8192
    assert "all 36 layers on the GPU" in text(a)
    # training: CUDA and bitsandbytes work, but the 4B recipe wants ~24 GB
    assert a.training_possible and a.training_recipe == "demo-cpu"
    assert "qwen3-4b recipe needs a ~24 GB GPU" in text(a) and "--ignore-hardware" in text(a)


def test_small_gpu_gets_a_partial_offload_proportional_to_its_memory():
    p = machine(total_gb=32, free_gb=24, gpus=(cuda_gpu(4.0, 2.5),), llama=CUDA_BUILD)
    a = advise(p)
    assert a.quant == "Q4_K_M"  # nothing larger fits the GPU whole
    assert 0 < a.n_gpu_layers < 36
    bigger = llama_settings(machine(total_gb=32, free_gb=24, gpus=(cuda_gpu(6.0, 3.2),), llama=CUDA_BUILD),
                            QWEN3_4B_BYTES["Q4_K_M"])
    assert a.n_gpu_layers < bigger.n_gpu_layers  # more free VRAM, more layers
    assert "of 36 layers on the GPU" in text(a)


def test_big_gpu_takes_the_largest_quant_and_the_capped_context():
    a = advise(machine(total_gb=64, free_gb=50, gpus=(cuda_gpu(24.0, 23.0),), llama=CUDA_BUILD, training=CUDA_TRAINING))
    assert (a.quant, a.n_gpu_layers, a.num_ctx) == ("Q8_0", -1, 32768)
    assert a.training_possible and a.training_recipe == "qwen3-4b"


def test_a_4gb_machine_is_told_the_model_will_not_run_well():
    a = advise(machine(total_gb=4, free_gb=2.6))
    assert (a.quant, a.num_ctx, a.n_gpu_layers, a.runs_well) == ("Q4_K_M", 2048, 0, False)
    assert "too little free memory" in text(a)  # 2.6 GB cannot even hold the weights and a 2K cache
    assert "will not run well" in text(a) and "num_ctx (2048)" in text(a)


def test_apple_silicon_16gb_unified_memory_offloads_all_layers_to_metal():
    p = machine(total_gb=16, free_gb=10, unified=True, llama=METAL_BUILD, system="Darwin",
                gpus=(GPU("Apple arm64 GPU (unified memory)", 16 * GB, 10 * GB),),
                training=Training("2.13.0", False, None, None, None, None, "ModuleNotFoundError: bitsandbytes"))
    a = advise(p)
    assert a.n_gpu_layers == -1  # Metal: the unified memory, not a VRAM pool
    assert a.quant == "Q8_0" and a.num_ctx == 16384  # 0.75 × 10 GB − 4.3 GB − overhead ≈ 2.6 GB of cache
    assert "unified memory" in text(a)
    assert a.training_possible is False and "bitsandbytes" in text(a)


def test_apple_silicon_with_a_build_without_metal_says_how_to_rebuild():
    p = machine(total_gb=16, free_gb=10, unified=True, llama=CPU_BUILD, system="Darwin")
    a = advise(p)
    assert a.n_gpu_layers == 0 and "GGML_METAL=on" in text(a)


def test_gpu_present_but_llama_cpp_built_for_cpu_only():
    p = machine(total_gb=16, free_gb=10, gpus=(cuda_gpu(12.0, 11.5, name="NVIDIA RTX 3060"),), llama=CPU_BUILD)
    a = advise(p)
    assert a.n_gpu_layers == 0  # the GPU cannot be used by this build
    assert advice.usable_memory(p) == 10 * GB  # its VRAM does not count
    warning = next(w for w in a.warnings if "no GPU offload" in w)
    assert "NVIDIA RTX 3060" in warning and 'CMAKE_ARGS="-DGGML_CUDA=on"' in warning and "--no-binary" in warning


def test_llama_cpp_missing_still_gets_a_quant_and_says_how_to_install():
    a = advise(machine(llama=LlamaBuild(error="ModuleNotFoundError: No module named 'llama_cpp'")))
    assert a.quant in QWEN3_4B_BYTES and "pip install llama-cpp-python" in text(a)


def test_unknown_memory_falls_back_to_the_defaults():
    p = dataclasses.replace(machine(), memory=Memory(error="no /proc"))
    a = advise(p)
    assert (a.quant, a.n_gpu_layers, a.num_ctx) == ("Q4_K_M", 0, 8192)
    assert "could not be measured" in text(a)


def test_quant_ladder_grows_with_memory():
    quants = [largest_fitting(machine(total_gb=g * 1.5, free_gb=g)) for g in (3, 6, 7, 8, 9, 12)]
    order = ["Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0"]
    assert [order.index(q) for q in quants] == sorted(order.index(q) for q in quants)
    assert quants[0] == "Q4_K_M" and quants[-1] == "Q8_0"


def test_context_is_a_power_of_two_within_bounds_and_the_models_own_limit():
    for free in (2, 4, 6, 8, 16, 64):
        s = llama_settings(machine(total_gb=free * 2, free_gb=free), QWEN3_4B_BYTES["Q4_K_M"])
        assert 2048 <= s.n_ctx <= 32768 and s.n_ctx & (s.n_ctx - 1) == 0
    small = advice.ModelShape("tiny", 4, 4096, 4096)
    assert llama_settings(machine(total_gb=64, free_gb=60), 10**6, small).n_ctx == 4096


# ---------------------------------------------------------------- training, Ollama, statutes


def test_training_on_cpu_versus_cuda_with_bitsandbytes():
    cpu = advise(machine())
    assert cpu.training_recipe == "demo-cpu" and "needs a CUDA GPU" in text(cpu)
    cuda = advise(machine(gpus=(cuda_gpu(24.0),), llama=CUDA_BUILD, training=CUDA_TRAINING))
    assert cuda.training_recipe == "qwen3-4b" and "QLoRA 4-bit" in text(cuda)
    old = advise(machine(gpus=(cuda_gpu(24.0, cc=7.5),), llama=CUDA_BUILD, training=CUDA_TRAINING))
    assert old.training_recipe == "qwen3-4b" and "no native bfloat16" in text(old)


def test_training_refused_when_bitsandbytes_cannot_run_its_4bit_layers():
    broken = Training("2.13.0", True, "12.8", "0.50.2", False, "cuda", "RuntimeError: no kernel image")
    a = advise(machine(gpus=(cuda_gpu(24.0),), llama=CUDA_BUILD, training=broken))
    assert a.training_possible is False and a.training_recipe is None
    assert any("no kernel image" in w for w in a.warnings)
    cpu_broken = Training("2.13.0", False, None, "0.50.2", False, "cpu", "NotImplementedError")
    assert advise(machine(training=cpu_broken)).training_possible is False
    no_torch = advise(machine(training=Training(error="ModuleNotFoundError: torch")))
    assert no_torch.training_possible is None and "torch could not be probed" in text(no_torch)


@pytest.mark.parametrize("ollama, expected", [
    (Ollama(), "not installed"),
    (Ollama("/usr/bin/ollama", "0.30.1", reachable=False, error="connection refused"), "ollama serve"),
    (Ollama("/usr/bin/ollama", "0.30.1", reachable=True, server_version="0.30.1"), "ecmiip-chat --ollama"),
    (Ollama(None, None, reachable=True, server_version="0.31.0"), "0.31.0"),
])
def test_ollama_absent_installed_or_running(ollama, expected):
    assert expected in text(advise(machine(ollama=ollama)))


def test_an_amx_build_is_a_warning_that_says_what_ec_miip_does_about_it():
    amx = dataclasses.replace(CPU_BUILD, cpu_features=("AVX512", "AMX_INT8"))
    warning = next(w for w in advise(machine(llama=amx)).warnings if "AMX" in w)
    assert "llama.cpp issue 20824" in warning and "loads models without them" in warning
    assert "ECMIIP_LLAMA_AMX=1" in warning and "-DGGML_NATIVE=OFF" in warning
    allowed = advise(machine(llama=dataclasses.replace(amx, amx_allowed=True))).warnings
    assert any("ECMIIP_LLAMA_AMX=1 lets ec-miip use them" in w for w in allowed)
    assert not any("AMX" in w for w in advise(machine()).warnings)


def test_statutes_missing_texts_and_an_old_store_are_warnings():
    fresh = advise(machine())
    assert "reviewed on 2026-11-29" in text(fresh) and not any("statutes" in w for w in fresh.warnings)
    old = advise(machine(statutes=Statutes(date(2024, 1, 1), (), ("《反不正当竞争法》（2019修正）",))))
    assert any("not shipped for 1 law" in w for w in old.warnings)
    assert any("days ago" in w for w in old.warnings)


def test_low_disk_is_a_warning():
    p = dataclasses.replace(machine(), disks=(doctor.Disk("hf_cache", "/cache", 2 * GB),))
    assert any("/cache" in w and "ecmiip pull" in w for w in advise(p).warnings)


# ---------------------------------------------------------------- probe parsers


def test_parse_system_info_finds_backends_and_cpu_features():
    backends, features = doctor.parse_system_info(
        "CUDA : ARCHS = 890 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 0 | "
        "FMA = 1 | BLAS : ACCELERATE = 1 |")
    assert backends == ("CUDA", "BLAS") and features == ("SSE3", "AVX2", "FMA")
    assert doctor.parse_system_info("Metal : EMBED_LIBRARY = 1 | CPU : NEON = 1 | ARM_FMA = 1 |") == (
        ("Metal",), ("NEON", "ARM_FMA"))


def test_parse_nvidia_smi():
    gpus = doctor.parse_nvidia_smi("NVIDIA GeForce RTX 4090, 24564, 23012, 8.9\nTesla T4, 15360, [N/A], 7.5\n")
    assert gpus[0] == GPU("NVIDIA GeForce RTX 4090", 24564 * 2**20, 23012 * 2**20, 8.9)
    assert gpus[1].memory_free_bytes is None and gpus[1].compute_capability == 7.5
    assert doctor.parse_nvidia_smi("NVIDIA A100, 81920, 80000\n")[0].compute_capability is None


def test_gpus_from_nvidia_smi_when_torch_does_not_see_cuda(monkeypatch, tmp_path):
    fake = tmp_path / "nvidia-smi"
    fake.write_text('#!/bin/sh\ncase "$*" in *compute_cap*) echo "Field compute_cap is not valid" >&2; exit 2;; esac\n'
                    'echo "NVIDIA GeForce RTX 3060, 12288, 11800"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    found = doctor.probe_gpus(use_torch=False)
    assert found.source == "nvidia-smi"
    assert found.devices == (GPU("NVIDIA GeForce RTX 3060", 12288 * 2**20, 11800 * 2**20, None),)


@pytest.mark.parametrize("value, expected", [
    ("", "http://127.0.0.1:11434"), ("0.0.0.0", "http://127.0.0.1:11434"), ("localhost:9999", "http://localhost:9999"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"), ("https://[::1]", "https://[::1]:11434"),
])
def test_ollama_host_is_read_as_ollama_reads_it(monkeypatch, value, expected):
    monkeypatch.setenv("OLLAMA_HOST", value)
    assert doctor.ollama_host() == expected


def test_a_remote_ollama_host_is_never_contacted(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "10.1.2.3:11434")
    monkeypatch.setenv("ECMIIP_OLLAMA", "/nonexistent/ollama")
    with no_network() as attempts:
        o = doctor.probe_ollama()
    assert attempts == [] and o.reachable is None and "not a loopback address" in o.error
    assert "ECMIIP_OLLAMA=/nonexistent/ollama is not an executable file" in o.error


def test_ollama_found_and_reachable_on_loopback(monkeypatch, tmp_path):
    class Version(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps({"version": "0.30.1"}).encode() if self.path == "/api/version" else b"{}"
            self.send_response(200 if self.path == "/api/version" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Version)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake = tmp_path / "ollama"
    fake.write_text("#!/bin/sh\necho 'ollama version is 0.30.1'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("ECMIIP_OLLAMA", str(fake))
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{server.server_port}")
    try:
        o = doctor.probe_ollama()
    finally:
        server.shutdown()
        server.server_close()
    assert (o.binary, o.version, o.reachable, o.server_version) == (str(fake), "0.30.1", True, "0.30.1")
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{server.server_port}")  # now closed
    closed = doctor.probe_ollama()
    assert closed.reachable is False and closed.error


def test_a_failing_probe_is_unknown_with_its_reason(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_llama(name, *args, **kwargs):
        if name == "llama_cpp":
            raise ImportError("llama_cpp is broken here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_llama)
    build = doctor.probe_llama()
    assert build.gpu_offload is None and "llama_cpp is broken here" in build.error


# ---------------------------------------------------------------- GGUF shape and the chat client's settings


def _metadata_gguf(path, **shape):
    import gguf

    w = gguf.GGUFWriter(str(path), "qwen3")
    w.add_name("test-qwen3")
    w.add_block_count(shape.get("layers", 36))
    w.add_head_count(32)
    w.add_head_count_kv(8)
    w.add_key_length(128)
    w.add_value_length(128)
    w.add_embedding_length(2560)
    w.add_context_length(shape.get("context", 40960))
    w.add_token_list([f"t{i}" for i in range(5000)])  # a long string array, skipped unread
    w.add_token_types([1] * 5000)
    w.add_array("qwen3.test_small_array", [3, 1, 2])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_gguf_shape_reads_the_kv_cost_and_chat_settings_use_it(tmp_path):
    path = tmp_path / "m.gguf"
    _metadata_gguf(path)
    meta = doctor.gguf_metadata(path)
    assert meta["general.name"] == "test-qwen3" and meta["qwen3.test_small_array"] == [3, 1, 2]
    assert meta["tokenizer.ggml.tokens"] is None  # skipped
    shape = doctor.gguf_shape(path)
    assert (shape.n_layers, shape.kv_bytes_per_token, shape.context_length) == (36, 147_456, 40960)
    settings = doctor.chat_settings(path)
    assert settings is not None and 2048 <= settings.n_ctx <= 32768 and settings.note
    assert settings.n_gpu_layers == -1 or settings.n_gpu_layers >= 0
    assert doctor.chat_settings(tmp_path / "missing.gguf") is None
    (tmp_path / "bad.gguf").write_bytes(b"not a gguf")
    assert doctor.chat_settings(tmp_path / "bad.gguf") is None


# ---------------------------------------------------------------- the command


def _doctor(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    doctor_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["doctor", *argv])
    return args.handler(args)


def test_table_and_recommendation_on_a_synthetic_machine(monkeypatch, capsys):
    p = machine(total_gb=16, free_gb=10, gpus=(cuda_gpu(12.0, 11.5, name="NVIDIA RTX 3060"),), llama=CPU_BUILD)
    monkeypatch.setattr(doctor, "probe", lambda: p)
    assert _doctor() == 0
    out = capsys.readouterr().out
    for expected in ("llama.cpp", "RAM", "NVIDIA RTX 3060", "bitsandbytes", "Ollama", "statute store",
                     "Recommendation", "GGML_CUDA=on", "Quant:"):
        assert expected in out, expected


def test_json_is_one_object_on_stdout_from_a_real_probe(capfd):
    """The one real probe: structure only, no network beyond loopback, a few seconds (torch, bitsandbytes)."""
    with no_network() as attempts:
        assert _doctor("--json") == 0
    assert attempts == []
    out = capfd.readouterr().out
    data = json.loads(out)  # the whole of stdout is the object
    assert set(data) == {"profile", "advice"}
    profile, adv = data["profile"], data["advice"]
    assert set(profile) == {f.name for f in dataclasses.fields(MachineProfile)}
    for section in ("llama", "memory", "gpus", "training", "ollama", "statutes"):
        assert "error" in profile[section]
    assert profile["memory"]["ram_total_bytes"] is None or profile["memory"]["ram_total_bytes"] > 0
    assert {d["label"] for d in profile["disks"]} == {"cwd", "hf_cache", "user_data"}
    assert {r["name"] for r in profile["recipes"]} >= {"demo-cpu", "qwen3-4b"}
    date.fromisoformat(profile["probed_on"])
    assert adv["quant"] in QWEN3_4B_BYTES and isinstance(adv["n_gpu_layers"], int)
    assert 2048 <= adv["num_ctx"] <= 32768
    assert adv["recommendations"] and all(isinstance(x, str) for x in adv["recommendations"] + adv["warnings"])
    assert os.environ.get("OLLAMA_HOST") is None or profile["ollama"]["host"]
