"""The SafeWatch-style engine: one-prefill multi-label scoring with PEPE and PAP, explain-on-flag, and the
generate-everything baseline. Plain functions of (backbone, config, request); the Guard class only wires them."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from guardstream.engines.base import GuardRequest
from guardstream.engines.compile.hooks import video_encoder
from guardstream.engines.compile.settings import CompileSettings
from guardstream.engines.safewatch import layout as lay
from guardstream.engines.safewatch import pap, prompts
from guardstream.engines.safewatch.cache import PolicyKVCache, policy_key
from guardstream.engines.safewatch.config import Debias, Layout, SafeWatchConfig
from guardstream.engines.safewatch.decode import Branch, Generated, greedy
from guardstream.engines.safewatch.families.base import Backbone
from guardstream.engines.safewatch.kernels import use_fused_pap
from guardstream.engines.safewatch.kernels.prune_layer import FusedPap
from guardstream.engines.safewatch.layers import FlopCounter, LayerKV, PapPlan, PrefillOut, linear_params, prefill
from guardstream.engines.safewatch.patchify import VideoPatches, prepare_video
from guardstream.schemas.policy import Policy


@dataclass
class Scored:
    """One upload's one-prefill result, plus what explain-on-flag needs to continue its branches."""

    request: GuardRequest
    log_odds: torch.Tensor  # (P,) debiased
    raw_log_odds: torch.Tensor  # (P,) before debiasing
    plan: lay.Plan
    out: PrefillOut
    video: VideoPatches | None
    selection: pap.Selection | None
    tokens: dict[str, int] = field(default_factory=dict)
    flops: FlopCounter = field(default_factory=FlopCounter)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def probabilities(self) -> torch.Tensor:
        return torch.sigmoid(self.log_odds)


def answer_ids(backbone: Backbone) -> tuple[int, int]:
    """Token ids of the first token of 'Yes' and 'No' (what the assistant turn starts with)."""
    yes, no = backbone.token_ids(prompts.YES)[0], backbone.token_ids(prompts.NO)[0]
    if yes == no:
        raise ValueError("tokenizer maps 'Yes' and 'No' to the same first token")
    return yes, no


class SafeWatchEngine:
    def __init__(
        self, backbone: Backbone, config: SafeWatchConfig, compile_settings: CompileSettings | None = None
    ) -> None:
        self.backbone = backbone
        self.config = config
        # vision tower on ONNX Runtime (engines/compile) when it exports and verifies; backbone's torch path otherwise
        self.encode_video: Callable[[torch.Tensor, tuple[int, int, int]], torch.Tensor] = (
            video_encoder(backbone, compile_settings) or backbone.encode_video
        )
        self.pap_kernel = (compile_settings or CompileSettings()).pap_kernel  # fused PAP on GPU (kernels/)
        self.yes_id, self.no_id = answer_ids(backbone)
        self.query_ids = backbone.token_ids(prompts.SCORE_QUERY)
        self.chunk_cache = PolicyKVCache(config.policy_cache_entries)
        self.priors: dict[tuple[str, ...], float] = {}
        self._vision_params = sum(p.numel() for p in backbone.model.model.visual.parameters())

    # ---- scoring -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def score(self, request: GuardRequest, *, use_cache: bool = True) -> Scored:
        """Score every policy of the request in one forward pass (plus, once per policy, its content-free prior)."""
        cfg, bb = self.config, self.backbone
        chunks = [bb.token_ids(prompts.policy_chunk(p)) for p in request.policies]
        video = (
            prepare_video(request.frames.pixels, request.frames.timestamps_s, bb.vision, cfg.max_frame_edge)
            if len(request.frames)
            else None
        )
        info = lay.VideoInfo(
            video.n_tokens if video else None,
            video.grid_thw if video else None,
            video.seconds_per_grid if video else 1.0,
        )
        metadata = prompts.upload_text(request.text.title, request.text.description, request.text.transcript)
        plan = lay.build(bb, cfg.layout, chunks, self.query_ids, info, metadata)
        flops = FlopCounter()
        video_embeds = None
        started = time.perf_counter()
        if video is not None:
            video_embeds = self.encode_video(video.patches, video.grid_thw)
            flops.vision = 2.0 * self._vision_params * video.patches.shape[0]
        vision_done = time.perf_counter()
        prior = self._priors(request, chunks) if cfg.debias is Debias.CONTENT_FREE else None
        prefill_started = time.perf_counter()
        cached = cfg.layout is Layout.POLICY_FIRST and use_cache and cfg.policy_cache_entries > 0
        out, new_segs = self._run(plan, video_embeds, request, cached)
        raw = self._answer_log_odds(plan, out, new_segs)
        timings = {
            "vision_ms": (vision_done - started) * 1e3,
            "prefill_ms": (time.perf_counter() - prefill_started) * 1e3,
        }
        prior = torch.zeros_like(raw) if prior is None else prior
        flops.decoder, flops.head = out.flops.decoder, 2.0 * len(raw) * bb.lm_head.weight.numel()
        selection = pap.select(out.relevance, cfg.pap_keep_ratio) if out.relevance is not None else None
        tokens = {
            "prefill_tokens": sum(len(s.ids) for s in plan.segments),
            "computed_tokens": int(sum(len(plan.segments[i].ids) for i in new_segs)),
            "visual_tokens": video.n_tokens if video else 0,
            "visual_tokens_kept": int(out.visual_keep.sum()) if out.visual_keep is not None else 0,
        }
        return Scored(request, raw - prior, raw, plan, out, video, selection, tokens, flops, timings)

    def _run(
        self, plan: lay.Plan, video_embeds: torch.Tensor | None, request: GuardRequest, cached: bool
    ) -> tuple[PrefillOut, list[int]]:
        """Prefill the plan; with `cached`, system + chunk KV come from the policy cache and only the rest runs."""
        all_segs = list(range(len(plan.segments)))
        past = None
        new_segs = all_segs
        if cached:
            past = self._cached_prefix(plan, request)
            new_segs = [i for i in all_segs if plan.segments[i].kind not in ("system", "chunk")]
        ids, pos, seg = plan.flat(new_segs)
        start = 0 if past is None else int(past[0].order.max()) + 1
        order = torch.arange(len(ids)) + start
        embeds = self._embed(ids, video_embeds)
        return prefill(
            self.backbone, embeds, pos, seg, order, plan.visible(), past, self._pap_plan(plan, new_segs, ids)
        ), new_segs

    def _embed(self, ids: list[int], video_embeds: torch.Tensor | None) -> torch.Tensor:
        tensor = torch.tensor(ids, dtype=torch.long)
        embeds: torch.Tensor = self.backbone.embed(tensor)
        if video_embeds is not None:
            embeds[tensor == self.backbone.video_token_id] = video_embeds.to(embeds.dtype)
        return embeds

    def _pap_plan(self, plan: lay.Plan, new_segs: list[int], ids: list[int]) -> PapPlan | None:
        """Relevance sources: policy chunk tokens (paper layout) or query tokens (policy-first, whose chunks
        precede the video and cannot attend to it)."""
        visual = (torch.tensor(ids) == self.backbone.video_token_id).nonzero().flatten()
        if len(visual) == 0:
            return None
        kind = "chunk" if self.config.layout is Layout.PAPER else "query"
        _, _, seg = plan.flat(new_segs)
        sources = [(seg == i).nonzero().flatten() for i in plan.of_kind(kind)]
        layer = min(self.config.pap_layer, len(self.backbone.layers) - 1)
        ratio = self.config.pap_keep_ratio
        fused = (
            FusedPap(ratio, visual, sources)
            if use_fused_pap(self.pap_kernel, self.backbone.embed.weight.device)
            else None
        )
        return PapPlan(layer, visual, sources, lambda rel: pap.select(rel, ratio).keep, fused)

    def _cached_prefix(self, plan: lay.Plan, request: GuardRequest) -> list[LayerKV]:
        """Per-layer KV of system + every chunk (request order), each chunk computed alone against the system
        prompt and cached under (policy id, policy-set version, model version)."""
        system_kv = self._chunk_kv(("__system__", "", self.backbone.model_version), plan, None)
        parts = [system_kv]
        for seg_id in plan.of_kind("chunk"):
            policy = request.policies[plan.segments[seg_id].policy or 0]
            key = policy_key(policy, request.policy_set_version, self.backbone.model_version)
            parts.append(self._chunk_kv(key, plan, seg_id))
        merged = []
        offset = 0
        orders = []
        for part, seg_id in zip(parts, [0, *plan.of_kind("chunk")], strict=True):
            n = part[0].seg.shape[0]
            orders.append((seg_id, torch.arange(n) + offset))
            offset += n
        for layer in range(len(self.backbone.layers)):
            merged.append(
                LayerKV(
                    torch.cat([p[layer].k for p in parts], dim=2),
                    torch.cat([p[layer].v for p in parts], dim=2),
                    torch.cat([torch.full((o.shape[0],), s) for s, o in orders]),
                    torch.cat([o for _, o in orders]),
                )
            )
        return merged

    def _chunk_kv(self, key: tuple[str, ...], plan: lay.Plan, seg_id: int | None) -> list[LayerKV]:
        hit: list[LayerKV] | None = self.chunk_cache.get(key)
        if hit is not None:
            return hit
        segs = [0] if seg_id is None else [0, seg_id]
        ids, pos, seg = plan.flat(segs)
        out = prefill(self.backbone, self._embed(ids, None), pos, seg, torch.arange(len(ids)), plan.visible())
        n_sys = len(plan.segments[0].ids)
        rows = torch.arange(len(ids)) if seg_id is None else torch.arange(n_sys, len(ids))
        kv = [layer.take(rows) for layer in out.kv]
        self.chunk_cache.put(key, kv)
        return kv

    def _answer_log_odds(self, plan: lay.Plan, out: PrefillOut, new_segs: list[int]) -> torch.Tensor:
        """Yes − No logit at the last token of every query branch, in policy order."""
        _, _, seg = plan.flat(new_segs)
        last_rows = []
        kept_seg = seg[out.kept]
        for q in plan.of_kind("query"):
            rows = (kept_seg == q).nonzero().flatten()
            last_rows.append(int(rows[-1]))
        logits: torch.Tensor = self.backbone.lm_head(self.backbone.norm(out.hidden[last_rows]))
        return logits[:, self.yes_id] - logits[:, self.no_id]

    def _priors(self, request: GuardRequest, chunks: list[list[int]]) -> torch.Tensor:
        """Content-free Yes−No log-odds per policy (contextual calibration), computed once per policy version."""
        keys = [
            (*policy_key(p, request.policy_set_version, self.backbone.model_version), self.config.layout.value)
            for p in request.policies
        ]
        missing = [i for i, key in enumerate(keys) if key not in self.priors]
        if missing:
            info = lay.VideoInfo(None, None, 1.0)
            plan = lay.build(
                self.backbone,
                self.config.layout,
                [chunks[i] for i in missing],
                self.query_ids,
                info,
                "",
                content_free=True,
            )
            segs = list(range(len(plan.segments)))
            ids, pos, seg = plan.flat(segs)
            out = prefill(self.backbone, self._embed(ids, None), pos, seg, torch.arange(len(ids)), plan.visible())
            for i, value in zip(missing, self._answer_log_odds(plan, out, segs).tolist(), strict=True):
                self.priors[keys[i]] = float(value)
        return torch.tensor([self.priors[key] for key in keys])

    # ---- explain on flag -----------------------------------------------------------------------------------
    def explain(self, items: list[tuple[Scored, int]]) -> tuple[list[str], Generated | None]:
        """Greedy explanations for (upload, policy index) pairs, decoded together in one batch."""
        if not items:
            return [], None
        branches = [self._explain_branch(scored, i) for scored, i in items]
        gen = greedy(
            self.backbone, branches, self.backbone.token_ids(prompts.EXPLAIN_QUERY), self.config.explain_max_new_tokens
        )
        return [parse_explanation(self.backbone.decode(t)) for t in gen.tokens], gen

    def _explain_branch(self, scored: Scored, policy_index: int) -> Branch:
        query_seg = scored.plan.of_kind("query")[policy_index]
        segment = scored.plan.segments[query_seg]
        return Branch(scored.out.kv, sorted(segment.sees), int(segment.positions[0, 0]))

    # ---- baseline ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def generate_everything(
        self, requests: list[GuardRequest], max_new_tokens: int, min_new_tokens: int = 0
    ) -> tuple[list[str], Generated, FlopCounter, int]:
        """SafeWatch's output for every upload: one sequential prompt (video, all policies), then description,
        guardrail JSON and explanations, decoded greedily and batched across uploads."""
        branches, flops, prompt_tokens = [], FlopCounter(), 0
        for request in requests:
            branch, fl, n = self._baseline_prefill(request)
            branches.append(branch)
            flops.vision += fl.vision
            flops.decoder += fl.decoder
            prompt_tokens += n
        gen = greedy(self.backbone, branches, [], max_new_tokens, min_new_tokens)
        return [self.backbone.decode(t) for t in gen.tokens], gen, flops, prompt_tokens

    def _baseline_prefill(self, request: GuardRequest) -> tuple[Branch, FlopCounter, int]:
        bb = self.backbone
        flops = FlopCounter()
        video = (
            prepare_video(request.frames.pixels, request.frames.timestamps_s, bb.vision, self.config.max_frame_edge)
            if len(request.frames)
            else None
        )
        metadata = prompts.upload_text(request.text.title, request.text.description, request.text.transcript)
        ids = bb.token_ids(prompts.SYSTEM) + lay.video_ids(bb, video.n_tokens if video else None, metadata)
        ids += (
            bb.token_ids("Policies:\n")
            + [t for p in request.policies for t in bb.token_ids(prompts.policy_chunk(p))]
            + bb.token_ids(prompts.GENERATE_ALL_QUERY)
        )
        pos = bb.positions(
            torch.tensor(ids), video.grid_thw if video else None, video.seconds_per_grid if video else 1.0
        )
        embeds = None
        if video is not None:
            embeds = self.encode_video(video.patches, video.grid_thw)
            flops.vision = 2.0 * self._vision_params * video.patches.shape[0]
        out = prefill(
            bb,
            self._embed(ids, embeds),
            pos,
            torch.zeros(len(ids), dtype=torch.long),
            torch.arange(len(ids)),
            torch.zeros(1, 1, dtype=torch.bool),
        )
        flops.decoder = out.flops.decoder
        logits = bb.lm_head(bb.norm(out.hidden[-1:]))[0]
        return Branch(out.kv, [0], lay.next_position(pos), first_logits=logits), flops, len(ids)

    def decoder_linear_params(self) -> int:
        return sum(linear_params(layer) for layer in self.backbone.layers)


def parse_explanation(text: str, max_chars: int = 2000) -> str:
    """Generated text → the verdict's explanation: printable, single-spaced, bounded."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    cleaned = " ".join(cleaned.split())
    return (cleaned or "(no explanation generated)")[:max_chars]


def content_hash(policy: Policy) -> str:
    return hashlib.sha256(policy.model_dump_json().encode()).hexdigest()[:16]
