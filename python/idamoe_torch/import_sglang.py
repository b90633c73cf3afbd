"""`python -m idamoe_torch import sglang SRC --out RUN`: SGLang's records of its MoE routing as a run
(docs/importing.md, "SGLang").

Two kinds of records (as read in sglang 0.5.23):

- Expert-distribution dumps (python/sglang/srt/eplb/expert_distribution.py; the server runs with
  `--expert-distribution-recorder-mode MODE`, and `/start_expert_distribution_record`,
  `/stop_expert_distribution_record`, `/dump_expert_distribution_record` write torch.save files into
  $SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR, default /tmp). SRC is that directory, or one file. Their
  files and schema are sglang_dumps.py's; per_pass and per_token dumps become steps in sglang_detail.py,
  stat dumps in sglang_stat.py.
- Routed experts of responses (`--enable-return-routed-experts`, each request's `return_routed_experts`
  and optional `routed_experts_start_len`): SRC is a JSON-lines file, one response per line as the
  native `/generate` returns it (`meta_info.routed_experts`, base64 of int32 [tokens, layers, top-k]
  little-endian, covering tokens start ... seqlen - 2 of prompt + output; `output_ids`;
  `prompt_token_ids` with `return_prompt_token_ids`, or the request's `input_ids` saved beside) or as
  the OpenAI-compatible server returns it (`sglext.routed_experts` of the first choice, ids in
  `sglext.input_ids` / `sglext.output_ids`). The int32s do not say their shape: give `--top-k`.
  Parsed here, read by the request machinery of import_vllm.py.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import os
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .import_vllm import DOMAINS, Request, RequestImport, aligned, load_pt, token_ids, vocab_and_tokens
from .layers import ContractError
from .recorded import MAX_BLOCK
from .sglang_detail import DetailImport
from .sglang_dumps import FORWARD_MODES, DumpFiles
from .sglang_stat import StatImport


# ----------------------------------------------------------------------------------------------
# routed experts of responses


def response_parser(top_k: Optional[int]):
    """A parser of SGLang responses (one per line) for RequestImport; the int32s are split by `top_k`."""
    layers: List[int] = []

    def parse(where: str, obj: Dict[str, Any]) -> Tuple[List[Request], int]:
        meta = obj.get("meta_info")
        prompt_value, output_value, counts = None, None, (None, None)
        encoded: Any = None
        if isinstance(meta, dict) and "routed_experts" in meta:
            encoded = meta["routed_experts"]
            prompt_value = obj.get("prompt_token_ids", obj.get("input_ids"))
            output_value = obj.get("output_ids")
            counts = (meta.get("prompt_tokens"), meta.get("completion_tokens"))
        elif isinstance(obj.get("sglext"), dict) or isinstance(obj.get("choices"), list):
            ext = obj.get("sglext") if isinstance(obj.get("sglext"), dict) else {}
            choices = obj.get("choices") if isinstance(obj.get("choices"), list) else []
            choice = choices[0] if choices and isinstance(choices[0], dict) else {}
            cmeta = choice.get("meta_info") if isinstance(choice.get("meta_info"), dict) else {}
            encoded = ext.get("routed_experts", cmeta.get("routed_experts"))
            prompt_value = ext.get("input_ids", choice.get("prompt_token_ids"))
            outs = ext.get("output_ids")
            output_value = outs[0] if isinstance(outs, list) and outs and isinstance(outs[0], list) else \
                choice.get("token_ids", choice.get("response_token_ids"))
            usage = obj.get("usage") if isinstance(obj.get("usage"), dict) else {}
            if len(choices) == 1:
                counts = (usage.get("prompt_tokens"), usage.get("completion_tokens"))
        elif isinstance(meta, dict):
            return [], 1  # a response without routing (aborted, or not asked for)
        else:
            raise ContractError(f"{where}: no meta_info.routed_experts and no sglext.routed_experts: not an SGLang response "
                                "(of a server with --enable-return-routed-experts)")
        if encoded is None:
            return [], 1
        if top_k is None:
            raise ContractError("SGLang's routed_experts are flat int32s: give --top-k K (the model's num_experts_per_tok) "
                                "to split them into layers")
        if not isinstance(encoded, str):
            raise ContractError(f"{where}: routed_experts is a {type(encoded).__name__}, expected base64 of int32s")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ContractError(f"{where}: routed_experts is not base64") from None
        if len(raw) % 4:
            raise ContractError(f"{where}: routed_experts holds {len(raw)} bytes, not whole int32s")
        flat = np.frombuffer(raw, dtype="<i4").astype(np.int64)
        start = obj.get("routed_experts_start_len", meta.get("routed_experts_start_len", 0) if isinstance(meta, dict) else 0)
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            raise ContractError(f"{where}: routed_experts_start_len {start!r} is not a count of tokens")
        prompt = token_ids(where, prompt_value, "prompt_token_ids")
        output = token_ids(where, output_value, "output_ids")
        if prompt is not None and output is not None:
            total = len(prompt) + len(output)
        elif all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
            total = counts[0] + counts[1]
        else:
            total = None
        if layers:
            rows_n = flat.size // (layers[0] * top_k)
            if rows_n * layers[0] * top_k != flat.size:
                raise ContractError(f"{where}: routed_experts holds {flat.size} int32s, not rows of {layers[0]} layers x top-{top_k}")
        else:
            if total is None:
                raise ContractError(f"{where}: the response says neither its token ids nor its token counts; the rows of "
                                    "routed_experts cannot be told")
            rows_n = max(total - 1 - start, 0)
            if rows_n == 0:
                return [Request(where=where, rows=np.zeros((0, 1, top_k), dtype=np.int64), start=start)], 0
            if flat.size % (rows_n * top_k):
                raise ContractError(f"{where}: routed_experts holds {flat.size} int32s, not {rows_n} tokens x layers x top-{top_k}")
            layers.append(flat.size // (rows_n * top_k))
            if not 1 <= layers[0] <= MAX_BLOCK + 1:
                raise ContractError(f"{where}: routed_experts of {layers[0]} layers: the contract allows 1...{MAX_BLOCK + 1}")
        rows = flat.reshape(rows_n, layers[0], top_k)
        if rows.size and rows.min() < 0:
            raise ContractError(f"{where}: routed_experts holds a negative expert index {int(rows.min())}")
        plen = counts[0] if isinstance(counts[0], int) and not isinstance(counts[0], bool) else None
        if total is not None and prompt is None and rows_n not in (total - 1 - start, total - start):
            raise ContractError(f"{where}: {rows_n} rows of routed experts; the {total} tokens from token {start} route {total - 1 - start}")
        tokens, plen = aligned(where, rows, start, prompt, output, plen)
        return [Request(where=where, rows=rows, start=start, tokens=tokens, prompt_len=plen)], 0

    return parse


# ----------------------------------------------------------------------------------------------


def make_source(src: str, args: argparse.Namespace) -> Tuple[Any, Dict[str, Any], List[str], Any, int]:
    """The `import sglang` source, prepared, with run.json's `imported`, the domains, vocabulary and k."""
    if not os.path.exists(src):
        raise ContractError(f"{src}: no such file or directory")
    if os.path.isdir(src) or src.endswith(".pt"):
        files = DumpFiles(src, args.follow)
        if files.single and args.follow:
            raise ContractError(f"{src}: --follow watches a dump directory ($SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR) or a "
                                "JSON-lines file of responses; a .pt file is written whole")
        kind, data = _dump_kind(files, args.follow)
        if kind == "stat":
            source: Any = StatImport(files, experts=args.experts, top_k=args.top_k, group=args.group, follow=args.follow,
                                     data=data)
            source.prepare()
            vocab, tokens = vocab_and_tokens(False, args.tokenizer)
            imported = {"producer": "SGLang", "records": "expert distribution (stat)", "source": src, "tokens": tokens}
            return source, imported, [], vocab, source.top_k
        source = DetailImport(files, experts=args.experts, top_k=args.top_k, group=args.group,
                              snapshot_every=args.snapshot_every, probe_tokens=args.probe_tokens, follow=args.follow,
                              data=data)
        source.prepare()
        mode = "per_token" if source.per_token else "per_pass"
        vocab, tokens = vocab_and_tokens(source.per_token, args.tokenizer)
        imported = {"producer": "SGLang", "records": f"expert distribution ({mode})", "source": src,
                    "ranks": len(source.ranks), "tokens": tokens}
        return source, imported, (list(FORWARD_MODES) if source.per_token else []), vocab, source.top_k
    requests = RequestImport(src, response_parser(args.top_k), what="routed experts", experts=args.experts,
                             top_k=args.top_k, group=args.group, snapshot_every=args.snapshot_every,
                             probe_tokens=args.probe_tokens, follow=args.follow)
    requests.prepare()
    vocab, tokens = vocab_and_tokens(requests.ids_known, args.tokenizer)
    imported = {"producer": "SGLang", "records": "routed experts", "source": src, "tokens": tokens}
    return requests, imported, list(DOMAINS), vocab, requests.top_k


def _dump_kind(files: DumpFiles, follow: bool) -> Tuple[str, Any]:
    """stat or detail: from the file names (a directory), or the contents (one file, returned too)."""
    while True:
        if files.single:
            data = load_pt(files.src)
            if isinstance(data, dict) and "logical_count" in data and "records" not in data:
                return "stat", data
            return "detail", data
        stat_files, detail = files.settled()
        if stat_files and detail:
            raise ContractError(f"{files.src}: holds stat dumps ({os.path.basename(stat_files[0])}) and per_pass or per_token "
                                f"dumps ({os.path.basename(next(iter(detail.values()))[0])}); import them apart")
        if stat_files:
            return "stat", None
        if detail:
            return "detail", None
        if not follow:
            raise ContractError(f"{files.src}: holds no expert_distribution_recorder_*.pt (SGLang's "
                                "$SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR after /dump_expert_distribution_record)")
        time.sleep(0.25)
