"""Post-hoc fit of IDA routers to a probe's router inputs (`python -m idamoe_torch fit-ida`): how IDA
would route the tokens a model routes today (`idamoe diff CAPTURE FIT`).

Letters as in docs/format.md (N tokens, D hidden width, P latent width, E experts, M components per
expert, K = E*M, B batch), and G for the blocks of a group fitted together.
"""
from __future__ import annotations

import heapq
import re
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch

from .contract import TAU
from .files import save_routers
from .heldout import coefficient_of_variation
from .ida_router import IDARouter
from .layers import PRIOR_MASSES, ContractError, activate, check_choice, rms_normalize
from .mixture import LOG_2PI, DiagonalMixture
from .run_writer import __version__

#: Where fit-ida's reactivation choices end: EM has no gradient for L_react to pull with (`loss`).
FIT_REACTIVATIONS = ("reset", "off")


@dataclass(frozen=True)
class FitDefaults:
    """The default of every fit-ida setting (fit_ida's keywords and the CLI's flags read these)."""

    components: int = 16
    latent: int = 32
    hidden: Tuple[int, ...] = (128,)
    top_k: int = 2
    #: Autoencoder steps at most; fewer when the reconstruction loss stops falling (see `plateau`).
    steps: int = 500
    batch: int = 1024
    lr: float = 1e-2
    #: The autoencoders stop once the mean reconstruction loss of the last `PLATEAU_WINDOW` steps is
    #: less than this fraction of the router input's mean square below that of the window before, in
    #: every block of the group (with RMS input norm: 0.005 = half a percent of the input's energy).
    plateau: float = 0.005
    #: EM iterations at most; fewer once the NLL per token falls by less than `em_tol` nats (and no
    #: component is dead).
    em_steps: int = 50
    em_tol: float = 1e-3
    #: Latents EM fits on (a random subset when the probe has more tokens).
    em_tokens: int = 65536
    #: Weight, in tokens, of the prior that pulls each component's variances toward the pooled
    #: within-component variance (MAP EM; 0: maximum likelihood).
    variance_prior: float = 32.0
    seed: int = 0
    reactivation: str = "reset"
    #: EM iterations between dead-component checks.
    react_every: int = 5
    activation: str = "gelu"
    expert_score: str = "max"
    input_norm: str = "rms"
    latent_norm: str = "rms"
    #: `idamoe.prior_mass` of the fitted routers (layers.PRIOR_MASSES).
    prior_mass: str = "global"
    device: str = "cpu"
    #: Hidden states (bytes, as stored) of the blocks fitted together; blocks are read group by group.
    group_bytes: int = 1 << 30


DEFAULTS = FitDefaults()
#: Steps over which the reconstruction loss is averaged for the plateau test.
PLATEAU_WINDOW = 25
#: The most latents EM may fit on (torch.multinomial draws reset targets among at most 2^24).
MAX_EM_TOKENS = 1 << 24
#: Rows per routing block when latents and densities of all N tokens are computed.
ROW_BLOCK = 8192


@dataclass
class FitReport:
    """One block's fit: NLL per token with the mixture on its k-means++ seeds and after EM, load CV
    (top-k assignments) and dead components on the probe after; the steps each phase took; seconds."""

    layer: int
    nll_before: float
    nll_after: float
    cv: float
    dead: int
    steps: int
    em_steps: int
    seconds: float


def resolve_device(name: str, log: Callable[[str], None]) -> torch.device:
    """The device to fit on: `cpu`, `cuda` or `cuda:N`; CUDA without a GPU falls back to the CPU and says so."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ContractError(f"device: unknown device '{name}' (cpu, cuda or cuda:N)") from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise ContractError(f"device: '{name}' is not supported (cpu, cuda or cuda:N)")
    if not torch.cuda.is_available():
        log(f"fit-ida: device {name}: no CUDA device here (torch.cuda.is_available() is false); fitting on the CPU")
        return torch.device("cpu")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise ContractError(f"device: {name} does not exist ({torch.cuda.device_count()} CUDA devices)")
    return device


class _ProbeLayers:
    """A probe's `layers.{i}.hidden` [N, D], read one block at a time in their stored type (a 48-block
    probe of 100k tokens at D 1024 is 20 GB as float32), with read_probe's checks."""

    def __init__(self, path: str) -> None:
        from safetensors import safe_open

        self.path = path
        self._file = safe_open(path, framework="pt")
        keys = list(self._file.keys())
        if "tokens" not in keys:
            raise ContractError(f"{path}: missing tensor tokens")
        shape = self._file.get_slice("tokens").get_shape()
        self.tokens = 1
        for s in shape:
            self.tokens *= int(s)
        #: {block: [N, D]}
        self.shapes: Dict[int, List[int]] = {}
        for name in keys:
            m = re.fullmatch(r"layers\.(\d+)\.hidden", name)
            if not m:
                continue
            dims = [int(s) for s in self._file.get_slice(name).get_shape()]
            if len(dims) != 2 or dims[0] != self.tokens or dims[1] < 1:
                raise ContractError(f"{path}: tensor {name} has shape {dims}, expected [{self.tokens}, D]")
            self.shapes[int(m.group(1))] = dims
        self.shapes = dict(sorted(self.shapes.items()))

    def read(self, block: int) -> torch.Tensor:
        """hidden [N, D] of `block`, floating point, every value finite."""
        name = f"layers.{block}.hidden"
        h = self._file.get_tensor(name)
        if not h.is_floating_point():
            raise ContractError(f"{self.path}: tensor {name} is {h.dtype}, expected a floating-point type")
        finite = torch.isfinite(h)
        if not bool(finite.all()):
            bad = int((~finite).reshape(-1).nonzero()[0])
            raise ContractError(f"{self.path}: tensor {name} holds a non-finite value at element {bad}")
        return h

    def dtype_name(self, block: int) -> str:
        """The stored element type of `block`'s hidden states (F16, BF16, F32, ...)."""
        return str(self._file.get_slice(f"layers.{block}.hidden").get_dtype())

    def element_bytes(self, block: int) -> int:
        """Bytes of one stored element of `block`'s hidden states (F16, BF16: 2, F32: 4)."""
        return {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}.get(self.dtype_name(block), 4)


def _groups(probe: _ProbeLayers, blocks: Sequence[int], budget: int) -> Iterator[List[int]]:
    """Consecutive chosen blocks of the same width D whose hidden states fit `budget` bytes together
    (at least one block per group)."""
    group: List[int] = []
    used = 0
    for i in blocks:
        n, d = probe.shapes[i]
        size = n * d * probe.element_bytes(i)
        if group and (used + size > budget or probe.shapes[group[0]][1] != d):
            yield group
            group, used = [], 0
        group.append(i)
        used += size
    if group:
        yield group


def _read_group(source: _ProbeLayers, group: Sequence[int], device: torch.device) -> torch.Tensor:
    """hidden [G, N, D] of the group's blocks on `device`, in their stored type when they share one
    (float32 otherwise), filled one block at a time."""
    first = source.read(group[0])
    shared = len({source.dtype_name(i) for i in group}) == 1
    dtype = first.dtype if shared else torch.float32
    h = torch.empty(len(group), *first.shape, dtype=dtype, device=device)
    h[0].copy_(first)
    del first
    for k, i in enumerate(group[1:], start=1):
        h[k].copy_(source.read(i))
    return h


class _StackedAutoencoders:
    """The autoencoders of G routers as stacked weights, trained together by batched matrix products:
    each block's loss is its own mean reconstruction error, so the blocks stay independent (Adam is
    elementwise; gradients are clipped per block, at norm 1, as before)."""

    def __init__(self, routers: Sequence[IDARouter], device: torch.device) -> None:
        self.routers = list(routers)
        first = self.routers[0]
        self.activation, self.input_norm, self.latent_norm = first.activation, first.input_norm, first.latent_norm
        #: Per stack (encoder, decoder) and linear j: weight [G, in, out], bias [G, 1, out].
        self.stacks: List[List[Tuple[torch.Tensor, torch.Tensor]]] = []
        for part in ("encoder", "decoder"):
            linears = [list(getattr(r, part)) for r in self.routers]
            self.stacks.append([
                (torch.stack([ls[j].weight.detach().t() for ls in linears]).to(device).requires_grad_(),
                 torch.stack([ls[j].bias.detach()[None, :] for ls in linears]).to(device).requires_grad_())
                for j in range(len(linears[0]))])
        self.params = [t for stack in self.stacks for pair in stack for t in pair]
        #: Adam's first and second moments, one per parameter.
        self.moments = [(torch.zeros_like(t), torch.zeros_like(t)) for t in self.params]

    def _run(self, stack: List[Tuple[torch.Tensor, torch.Tensor]], x: torch.Tensor) -> torch.Tensor:
        """x [G, B, in] through one stack (LinearStack's math, batched over G)."""
        for j, (w, b) in enumerate(stack):
            x = torch.baddbmm(b, x, w)
            if j < len(stack) - 1:
                x = activate(self.activation, x)
        return x

    def inputs(self, h: torch.Tensor) -> torch.Tensor:
        """The router inputs x [G, B, D] of h [G, B, D] (float32, RMS-normalised when input_norm is rms)."""
        x = h.float()
        return rms_normalize(x) if self.input_norm == "rms" else x

    def losses(self, x: torch.Tensor) -> torch.Tensor:
        """Mean squared reconstruction error [G] of router inputs x [G, B, D] (IDARouter's L_rec)."""
        z = self._run(self.stacks[0], x)
        z = rms_normalize(z) if self.latent_norm == "rms" else z
        return (self._run(self.stacks[1], z) - x).pow(2).mean(dim=(1, 2))

    def clip(self, max_norm: float = 1.0) -> None:
        """Scales each block's gradients to norm at most `max_norm` (torch's clip_grad_norm_, per block)."""
        grads = [p.grad for p in self.params if p.grad is not None]
        norms = torch.stack([g.pow(2).sum(dim=(1, 2)) for g in grads]).sum(dim=0).sqrt()  # [G]
        scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)[:, None, None]
        for g in grads:
            g.mul_(scale)

    @torch.no_grad()
    def adam(self, lr: float, step: int, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        """One Adam step (torch.optim.Adam's defaults and arithmetic) from the current gradients, which it
        then clears. Written out because torch.optim imports torch._dynamo, two seconds before a step."""
        for p, (m, v) in zip(self.params, self.moments):
            if p.grad is None:
                continue
            m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
            v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
            denom = (v / (1 - beta2 ** step)).sqrt_().add_(eps)
            p.addcdiv_(m, denom, value=-lr / (1 - beta1 ** step))
            p.grad = None

    @torch.no_grad()
    def store(self) -> None:
        """Copies the trained weights back into the routers' encoders and decoders."""
        for k, r in enumerate(self.routers):
            for part, stack in zip(("encoder", "decoder"), self.stacks):
                for linear, (w, b) in zip(getattr(r, part), stack):
                    linear.weight.copy_(w[k].t().cpu())
                    linear.bias.copy_(b[k, 0].cpu())


def _train_autoencoders(routers: Sequence[IDARouter], h: torch.Tensor, steps: int, batch: int, lr: float,
                        plateau: float, generators: Sequence[torch.Generator]) -> Tuple[int, bool, List[float]]:
    """Trains the G autoencoders on minibatches of h [G, N, D] (each block's rows from its own generator,
    so they do not depend on the group) until `steps` or a plateau in every block: (steps taken, whether
    it was a plateau, last window's mean reconstruction loss per block)."""
    auto = _StackedAutoencoders(routers, h.device)
    n, b = h.shape[1], min(batch, h.shape[1])
    blocks = torch.arange(h.shape[0], device=h.device)[:, None]
    history: List[torch.Tensor] = []  # [G] per step
    energy: Optional[torch.Tensor] = None  # [G] mean square of the first batch's router inputs
    step, stopped = 0, False
    while step < steps and not stopped:
        step += 1
        rows = torch.stack([torch.randint(0, n, (b,), generator=g) for g in generators]).to(h.device)  # [G, B]
        x = auto.inputs(h[blocks, rows])
        if energy is None:
            energy = x.pow(2).mean(dim=(1, 2)).double().clamp_min(1e-30)
        loss = auto.losses(x)
        loss.sum().backward()
        auto.clip()
        auto.adam(lr, step)
        history.append(loss.detach())
        if step % PLATEAU_WINDOW == 0 and step >= 2 * PLATEAU_WINDOW:
            w = torch.stack(history[-2 * PLATEAU_WINDOW:]).double()
            before, last = w[:PLATEAU_WINDOW].mean(dim=0), w[PLATEAU_WINDOW:].mean(dim=0)
            stopped = bool((before - last < plateau * energy).all())
    auto.store()
    tail = torch.stack(history[-PLATEAU_WINDOW:]).double().mean(dim=0)
    return step, stopped, tail.tolist()


def _kmeans_plus_plus(z: torch.Tensor, count: int, g: torch.Generator) -> torch.Tensor:
    """k-means++ seeds (as the Swift trainer's `--mixture-init kmeans++`): row indices [count] of z [n, P]
    float64, the first at random, each next with probability proportional to its squared distance to
    the nearest seed so far; once every row sits on a seed, the rest at random."""
    n = z.shape[0]
    chosen = [int(torch.randint(0, n, (1,), generator=g))]
    nearest = torch.full((n,), float("inf"), dtype=z.dtype, device=z.device)
    while len(chosen) < count:
        nearest = torch.minimum(nearest, (z - z[chosen[-1]]).pow(2).sum(dim=1))
        cumulative = nearest.cumsum(0)
        total = float(cumulative[-1])
        if not total > 0:
            rest = count - len(chosen)
            chosen += torch.cat([torch.randperm(n, generator=g) for _ in range((rest + n - 1) // n)])[:rest].tolist()
            break
        target = torch.rand((), dtype=torch.float64, generator=g).item() * total
        pick = int(torch.searchsorted(cumulative, torch.tensor([target], dtype=z.dtype, device=z.device), right=True))
        chosen.append(min(pick, n - 1))
    return torch.tensor(chosen, dtype=torch.long)


class _Joint32:
    """log p(z, k) [B, K] of the float64 mixture `gmm` in float32, for EM's statistics only: routing and
    every reported NLL use the contract's float64 DiagonalMixture.log_joint (the same expansion). The
    terms reach |log p| ~ 1e4 at the clamp's smallest variances, so float32 errs by ~1e-3 nats, far
    below what moves a responsibility; its exp and GEMMs are several times faster than float64's."""

    def __init__(self, gmm: DiagonalMixture) -> None:
        s = torch.clamp(gmm.log_vars, gmm.log_var_min, gmm.log_var_max)  # [K, P] float64
        prec = torch.exp(-s)
        mu = gmm.means
        log_pi = torch.log_softmax(gmm.logits, dim=0)
        self.offset = (log_pi - 0.5 * ((mu * mu * prec).sum(dim=1) + s.sum(dim=1) + mu.shape[1] * LOG_2PI)).float()
        self.prec = prec.float()  # [K, P]
        self.scaled = (mu * prec).float()  # [K, P]

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z, k) [B, K] for float32 latents z [B, P]."""
        return self.offset - 0.5 * ((z * z) @ self.prec.t()) + z @ self.scaled.t()


def _e_step(gmm: DiagonalMixture, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sufficient statistics of float32 latents z [n, P] under gmm, by row blocks: responsibility mass
    [K], sum of r z [K, P], sum of r z^2 [K, P], top-1 counts [K], log p(z) [n] (float64 sums of float32
    blocks)."""
    k, p = gmm.components, z.shape[1]
    joint_of = _Joint32(gmm)
    mass = z.new_zeros(k, dtype=torch.float64)
    first, second = z.new_zeros(k, p, dtype=torch.float64), z.new_zeros(k, p, dtype=torch.float64)
    top = z.new_zeros(k, dtype=torch.float64)
    density = []
    for start in range(0, z.shape[0], ROW_BLOCK):
        zb = z[start: start + ROW_BLOCK]
        joint = joint_of(zb)  # [B, K]
        best, arg = joint.max(dim=1)
        e = torch.exp(joint - best[:, None])
        total = e.sum(dim=1)
        r = e / total[:, None]
        mass += r.sum(dim=0).double()
        first += (r.t() @ zb).double()
        second += (r.t() @ (zb * zb)).double()
        top += torch.bincount(arg, minlength=k).double()
        density.append(best.double() + torch.log(total.double()))
    return mass, first, second, top, torch.cat(density)


def _ranked_counts(gmm: DiagonalMixture, z: torch.Tensor, k: int) -> Tuple[torch.Tensor, float]:
    """How often each component is among a latent's k most probable [K] (float64), for z [n, P], and how
    many of those places go to no component: `idamoe route` exponentiates log p(z, k) - max in float
    (docs/format.md), so a place whose numerator underflows is a tie at 0, which goes to the lowest
    expert index."""
    joint_of = _Joint32(gmm)
    counts = z.new_zeros(gmm.components, dtype=torch.float64)
    tied = 0.0
    for start in range(0, z.shape[0], ROW_BLOCK):
        best = joint_of(z[start: start + ROW_BLOCK]).topk(min(k, gmm.components), dim=1)
        live = torch.exp(best.values - best.values[:, :1]) > 0  # [B, k] float numerators
        counts += torch.bincount(best.indices[live], minlength=gmm.components).double()
        tied += float((~live).sum())
    return counts, tied


@torch.no_grad()
def _seed_mixture(router: IDARouter, z: torch.Tensor, g: torch.Generator) -> DiagonalMixture:
    """Places the router's mixture on latents z [n, P] (in random order): means on k-means++ seeds of the
    first rows, log-variances at the per-feature latent variance (clamped), equal priors. Returns the
    float64 copy EM works on."""
    k = router.components
    gmm = DiagonalMixture(k, z.shape[1], router.gmm.log_var_min, router.gmm.log_var_max).double().to(z.device)
    zd = z.double()
    seeds = zd[:min(zd.shape[0], max(8192, 16 * k))]
    variance = zd.var(dim=0, unbiased=False).clamp_min(1e-6)
    gmm.means.copy_(seeds[_kmeans_plus_plus(seeds, k, g).to(z.device)])
    gmm.log_vars.copy_(torch.log(variance).clamp(gmm.log_var_min, gmm.log_var_max).expand(k, -1))
    gmm.logits.zero_()
    router.gmm.load_state_dict({name: t.float() for name, t in gmm.state_dict().items()})
    return gmm


@torch.no_grad()
def _em(router: IDARouter, gmm: DiagonalMixture, z: torch.Tensor, em_steps: int, em_tol: float, reactivation: str,
        every: int, prior_tokens: float, g: torch.Generator) -> int:
    """EM for the float64 mixture `gmm` on latents z [n, P], at most `em_steps` E-steps, until the NLL per
    token falls by less than `em_tol`; then its components are grouped into experts by load and the
    result stored in the router. Variances are MAP estimates (below), log-variances clamped to the
    router's range. With `reset`, every `every` iterations and whenever the NLL settles, components whose
    prior and top-1 share are below tau/K move to latents drawn with probability softmax(-log p(z)), as
    reactivation's reset does (the log-variance and logit to the mean of all K), and EM goes on.
    EM fits one global prior (experts do not exist until the grouping); under the per-expert prior mass
    the stored logits log(N_k / n) then give pi_k = (1/E) N_k / sum of N_j over k's expert, the M-step's
    prior under that constraint for the grouping found. Returns the M-steps taken."""
    k, z = router.components, z.float()
    n = z.shape[0]
    low = TAU / k
    previous, done = float("inf"), 0
    for step in range(1, em_steps + 1):
        mass, first, second, top, log_density = _e_step(gmm, z)
        nll = -float(log_density.mean())
        converged = previous - nll < em_tol
        previous = nll
        if step > 1 and reactivation == "reset" and (step % every == 0 or converged):
            # The last M-step's masses and this E-step's top-1 counts and densities.
            dead = ((gmm.priors() < low) & (top / n < low)).nonzero().reshape(-1)
            weights = torch.softmax(-log_density, dim=0).cpu()
            count = min(int(dead.numel()), int((weights > 0).sum()))
            if count:
                rows = torch.multinomial(weights, count, replacement=False, generator=g).to(z.device)
                dead = dead[:count]
                gmm.means[dead] = z[rows].double()
                gmm.log_vars[dead] = gmm.log_vars.mean(dim=0)
                gmm.logits[dead] = gmm.logits.mean()
                previous = float("inf")
                continue
        if converged:
            break
        alive = mass > 1e-9
        mean = first / mass.clamp_min(1e-300)[:, None]
        variance = (second / mass.clamp_min(1e-300)[:, None] - mean * mean).clamp_min(1e-300)
        # MAP variances: each component's pulled toward the pooled within-component variance by a prior
        # worth `prior_tokens` tokens, so a component fitted on a handful of latents neither collapses
        # onto them nor, broad, becomes every token's second choice (which unbalances top-k loads).
        pooled = (variance * mass[:, None]).sum(dim=0) / n
        variance = (mass[:, None] * variance + prior_tokens * pooled) / (mass[:, None] + prior_tokens)
        gmm.means.copy_(torch.where(alive[:, None], mean, gmm.means))
        gmm.log_vars.copy_(torch.where(alive[:, None], torch.log(variance).clamp(gmm.log_var_min, gmm.log_var_max),
                                       gmm.log_vars))
        gmm.logits.copy_(torch.log((mass / n).clamp_min(1e-30)))
        done = step
    _group_by_load(gmm, router.experts, router.components_per_expert, *_ranked_counts(gmm, z, router.top_k))
    router.gmm.load_state_dict({name: t.float() for name, t in gmm.state_dict().items()})
    return done


@torch.no_grad()
def _group_by_load(gmm: DiagonalMixture, experts: int, m: int, counts: torch.Tensor, tied: float = 0.0) -> None:
    """Components are interchangeable until they are grouped into experts (expert e holds components
    e*M ... e*M + M - 1): reorders them so the experts' loads are even, by placing the components from
    the most used down (`counts` [K]: how often each is among a token's top-k), each in the least loaded
    expert with room left (ties: lower index); expert 0 starts with the `tied` places, which `idamoe
    route` gives it. A token's k best components mostly lie in k experts, so this evens the top-k load
    (top-1 counts alone leave the second choices piled on the broadest components' experts)."""
    heap = [(tied if e == 0 else 0.0, e) for e in range(experts)]
    heapq.heapify(heap)
    room = [m] * experts
    slots: List[List[int]] = [[] for _ in range(experts)]
    for c in torch.argsort(counts.cpu(), descending=True, stable=True).tolist():
        load, e = heapq.heappop(heap)
        slots[e].append(c)
        room[e] -= 1
        if room[e]:
            heapq.heappush(heap, (load + float(counts[c]), e))
    order = torch.tensor([c for s in slots for c in s], device=gmm.means.device)
    for t in (gmm.means, gmm.log_vars, gmm.logits):
        t.copy_(t[order])


@torch.no_grad()
def _latents(router: IDARouter, h: torch.Tensor) -> torch.Tensor:
    """z [N, P] of h [N, D] by the router's own encode, in row blocks."""
    return torch.cat([router.encode(router.router_input(h[s: s + ROW_BLOCK]))
                      for s in range(0, h.shape[0], ROW_BLOCK)])


@torch.no_grad()
def _nll(router: IDARouter, z: torch.Tensor) -> float:
    """NLL per token of latents z [N, P] under the router's mixture."""
    return -sum(float(torch.logsumexp(router.gmm.log_joint(z[s: s + ROW_BLOCK]), dim=1).sum())
                for s in range(0, z.shape[0], ROW_BLOCK)) / z.shape[0]


@torch.no_grad()
def _probe_measures(router: IDARouter, z: torch.Tensor) -> Tuple[float, float, int]:
    """(NLL per token, CV of the top-k expert load, dead components: top-1 share and prior below tau/K)
    of latents z [N, P], routed as `route` routes them."""
    n = z.shape[0]
    nll, load = 0.0, torch.zeros(router.experts, dtype=torch.float64)
    top = torch.zeros(router.components, dtype=torch.float64)
    for s in range(0, n, ROW_BLOCK):
        r = router._decide(router.gmm.log_joint(z[s: s + ROW_BLOCK]))
        nll -= float(r["log_density"].sum())
        load += torch.bincount(r["experts"].reshape(-1), minlength=router.experts).double().cpu()
        top += torch.bincount(r["top_component"], minlength=router.components).double().cpu()
    low = TAU / router.components
    dead = int(((top / n < low) & (router.gmm.priors().cpu() < low)).sum())
    return nll / n, coefficient_of_variation((load / load.sum().clamp_min(1)).tolist()), dead


def fit_ida(probe: str, out: str, experts: int, components: int = DEFAULTS.components, latent: int = DEFAULTS.latent,
            hidden: Sequence[int] = DEFAULTS.hidden, top_k: int = DEFAULTS.top_k, steps: int = DEFAULTS.steps,
            batch: int = DEFAULTS.batch, lr: float = DEFAULTS.lr, seed: int = DEFAULTS.seed,
            reactivation: str = DEFAULTS.reactivation, react_every: int = DEFAULTS.react_every,
            activation: str = DEFAULTS.activation, expert_score: str = DEFAULTS.expert_score,
            input_norm: str = DEFAULTS.input_norm, latent_norm: str = DEFAULTS.latent_norm,
            prior_mass: str = DEFAULTS.prior_mass, layers: Optional[Sequence[int]] = None,
            plateau: float = DEFAULTS.plateau,
            em_steps: int = DEFAULTS.em_steps, em_tol: float = DEFAULTS.em_tol, em_tokens: int = DEFAULTS.em_tokens,
            variance_prior: float = DEFAULTS.variance_prior,
            device: str = DEFAULTS.device, group_bytes: int = DEFAULTS.group_bytes,
            log: Optional[Callable[[str], None]] = None) -> List[FitReport]:
    """Fits one IDA router per MoE block of the probe and writes them as checkpoint `out`: the
    autoencoders of a group of blocks together on minibatches (reconstruction) until a plateau or
    `steps`, then per block the mixture by EM on the latents from k-means++ seeds, its components
    grouped into experts by load. `log` receives a progress line per group and per block."""
    say = log or (lambda line: None)
    if steps < 1 or batch < 1 or em_steps < 1 or react_every < 1 or not 1 <= em_tokens <= MAX_EM_TOKENS:
        raise ContractError(f"steps ({steps}), batch ({batch}), em-steps ({em_steps}) and react-every ({react_every}) "
                            f"must be at least 1, em-tokens ({em_tokens}) 1...{MAX_EM_TOKENS}")
    if reactivation not in FIT_REACTIVATIONS:
        raise ContractError(f"reactivation: fit-ida fits the mixture by EM: '{reactivation}' is not one of "
                            f"{', '.join(FIT_REACTIVATIONS)}")
    check_choice("prior_mass", prior_mass, PRIOR_MASSES)
    if not (plateau >= 0 and em_tol >= 0 and variance_prior >= 0):
        raise ContractError(f"plateau ({plateau}), em-tol ({em_tol}) and variance-prior ({variance_prior}) must be at least 0")
    where = resolve_device(device, say)
    source = _ProbeLayers(probe)
    if not source.shapes:
        raise ContractError(f"{probe}: no layers.{{i}}.hidden tensors (a run's snapshot probe has them)")
    if source.tokens < 1:
        raise ContractError(f"{probe}: the probe has no tokens")
    chosen = sorted(source.shapes) if layers is None else sorted(set(layers))
    missing = [i for i in chosen if i not in source.shapes]
    if missing:
        raise ContractError(f"{probe}: no layers.{missing[0]}.hidden (the probe has blocks {sorted(source.shapes)})")
    started = time.perf_counter()
    threads = f"{torch.get_num_threads()} torch threads" if where.type == "cpu" else str(where)
    say(f"fit-ida: {len(chosen)} blocks of {source.tokens} tokens on {where.type} ({threads})")
    routers: Dict[int, IDARouter] = {}
    reports: List[FitReport] = []
    for group in _groups(source, chosen, group_bytes):
        t0 = time.perf_counter()
        h = _read_group(source, group, where)  # [G, N, D]
        group_routers = []
        for i in group:
            torch.manual_seed(seed + i)
            group_routers.append(IDARouter(h.shape[2], experts=experts, components_per_expert=components,
                                           latent_dim=latent, top_k=top_k, hidden=hidden, activation=activation,
                                           expert_score=expert_score, input_norm=input_norm, latent_norm=latent_norm,
                                           prior_mass=prior_mass, seed=seed + i))
        generators = [torch.Generator().manual_seed(seed + i) for i in group]
        taken, plateaued, rec = _train_autoencoders(group_routers, h, steps, batch, lr, plateau, generators)
        ae_seconds = time.perf_counter() - t0
        say(f"fit-ida: blocks {','.join(map(str, group))}: autoencoders {taken} steps "
            f"({'plateau' if plateaued else 'step limit'}), reconstruction "
            f"{', '.join(f'{v:.4g}' for v in rec)}, {ae_seconds:.1f} s")
        for k, (i, router) in enumerate(zip(group, group_routers)):
            t1 = time.perf_counter()
            router.to(where)
            z = _latents(router, h[k])
            lg = generators[k]
            sample = z if z.shape[0] <= em_tokens else z[torch.randperm(z.shape[0], generator=lg)[:em_tokens].to(where)]
            sample = sample[torch.randperm(sample.shape[0], generator=lg).to(where)]
            gmm = _seed_mixture(router, sample, lg)
            before = _nll(router, z)
            em_run = _em(router, gmm, sample, em_steps, em_tol, reactivation, react_every, variance_prior, lg)
            nll, cv, dead = _probe_measures(router, z)
            seconds = time.perf_counter() - t1 + ae_seconds / len(group)
            reports.append(FitReport(i, before, nll, cv, dead, taken, em_run, seconds))
            routers[i] = router.cpu()
            say(f"fit-ida: layer {i} ({len(reports)}/{len(chosen)}): {taken} autoencoder + {em_run} EM steps, "
                f"NLL {before:.3f} -> {nll:.3f} per token, load CV {cv:.3f}, dead {dead}, {seconds:.1f} s "
                f"({time.perf_counter() - started:.1f} s in all)")
        del h
    save_routers(out, routers, step=steps, extra_metadata={"idamoe.producer": f"idamoe_torch {__version__} fit-ida",
                                                           "idamoe.fit_probe": probe})
    return reports
