"""Shared machinery of the sparse autoencoders: the config, the parameters, encode/decode, decoder-norm helpers.

Every architecture computes the same pre-activation h = (x·s - b_dec) @ W_enc + b_enc and the same linear decoder
x̂ = (f @ W_dec + b_dec) / s (docs/methods.md §1; Bricken et al. 2023, "Towards Monosemanticity"); they differ only in
the activation f(h) and the sparsity loss, which the subclasses in relu.py, topk.py, jumprelu.py and batchtopk.py
supply. Parameters are named and shaped as in SAELens (W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in],
b_dec [d_in]) so that saving to its format is a rename-free copy. s is the activation-normalisation scale: the SAE
trains on x·s, `fold_act_scale_` moves s into the weights so the saved SAE takes raw activations.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, NamedTuple

import torch
from jaxtyping import Bool, Float, Int, Shaped
from torch import Tensor, nn

from saes.config import SAEConfig
from saes.sparse_gate import SPARSE_BELOW, SparseCode, support_fraction


class SAEOutput(NamedTuple):
    """One forward pass, in raw activation space."""

    x_hat: Tensor
    feature_acts: Tensor
    pre_acts: Tensor


class SAELosses(NamedTuple):
    """The loss terms of one batch; `total` is what the trainer backpropagates. A NamedTuple, so DDP carries it
    through its forward pass as it is."""

    mse: Tensor
    """Mean over tokens of ||x - x̂||² (in normalised space)."""
    sparsity: Tensor
    """The architecture's sparsity penalty, coefficient applied (0 for topk/batchtopk)."""
    aux: Tensor
    """AuxK (topk/batchtopk) or pre-activation loss (jumprelu), coefficient applied; 0 when unused."""
    total: Tensor
    l0: Tensor
    """Mean active latents per token (detached, for logging)."""
    fire_counts: Tensor
    """[d_sae] int64: on how many tokens of the batch each latent fired (for dead masks and densities)."""

    def as_floats(self) -> dict[str, float]:
        """The scalar terms as floats, for logging."""
        return {k: float(v.detach()) for k, v in self._asdict().items() if k != "fire_counts"}

    def detached(self) -> SAELosses:
        return SAELosses(*(t.detach() for t in self))


class StepContext(NamedTuple):
    """What the trainer gives every architecture's loss at each step (`BaseSAE.step_loss`), the same for all kinds;
    each takes what it uses."""

    x: Float[Tensor, "batch d_in"]
    """The batch's input activations (raw)."""
    dead_mask: Bool[Tensor, " d_sae"] | None
    """Latents that have not fired for the dead window (AuxK, pre-activation loss)."""
    sparsity_coeff: float
    """The sparsity coefficient of this step (the sweep's λ after warm-up; unused by kinds whose k sets sparsity)."""
    target: Float[Tensor, "batch d_out"] | None = None
    """What the dictionary reconstructs: x itself for an SAE; another hook's activations of the same tokens for a
    kind that reads one hook and writes another (a transcoder)."""


class _PreActsFn(torch.autograd.Function):
    """h = (xs - b_dec) @ W_enc + b_enc for inputs that need no gradient.

    Autograd's generic backward would form grad_xs = g @ W_encᵀ (a full [batch, d_in] matmul) only to sum it over the
    batch for b_dec; here grad_b_dec = -W_enc @ Σ_batch g, a matrix-vector product, so a training step costs one
    dense matmul less.
    """

    @staticmethod
    def forward(ctx: Any, xs: Tensor, W_enc: Tensor, b_enc: Tensor, b_dec: Tensor) -> Tensor:
        xc = xs - b_dec
        ctx.save_for_backward(xc, W_enc)
        return torch.addmm(b_enc, xc, W_enc)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:
        xc, W_enc = ctx.saved_tensors
        g_sum = g.sum(0)
        grad_xs = g @ W_enc.T if ctx.needs_input_grad[0] else None
        grad_W = xc.T @ g if ctx.needs_input_grad[1] else None
        grad_b_dec = -(W_enc @ g_sum) if ctx.needs_input_grad[3] else None
        return grad_xs, grad_W, g_sum if ctx.needs_input_grad[2] else None, grad_b_dec


def fire_counts(acts_BF: Float[Tensor, "batch d_sae"]) -> Int[Tensor, " d_sae"]:
    """Per latent, the number of tokens where it is nonzero."""
    return torch.count_nonzero(acts_BF.detach().reshape(-1, acts_BF.shape[-1]), dim=0)


def mse_loss(x_BD: Float[Tensor, "batch d_in"], x_hat_BD: Float[Tensor, "batch d_in"]) -> Float[Tensor, ""]:
    """Mean over tokens of the squared error summed over the activation dimension."""
    return (x_hat_BD - x_BD).pow(2).sum(-1).mean()


class BaseSAE(nn.Module):
    """The shared SAE: subclasses define `activation` (h -> f) and `loss`."""

    SAELENS_NAMES: ClassVar[dict[str, str]] = {}
    """Our parameter name -> the name SAELens gives it on disk, where they differ."""

    @classmethod
    def saelens_extra_shapes(cls, cfg: SAEConfig) -> dict[str, tuple[int, ...]]:
        """Tensors beyond W_enc, b_enc, W_dec, b_dec this architecture reads from a SAELens folder (our names)."""
        return {}

    @classmethod
    @torch.no_grad()
    def fold_b_dec_into_input(cls, state: dict[str, Shaped[Tensor, "*shape"]]) -> None:
        """SAELens's apply_b_dec_to_input=false (the encoder reads x, not x - b_dec), folded into b_enc exactly."""
        state["b_enc"] = state["b_enc"] + state["b_dec"] @ state["W_enc"]

    @classmethod
    def from_saelens_state(cls, state: dict[str, Shaped[Tensor, "*shape"]]) -> None:
        """Adapt a SAELens state (our names) to this class's parameters, in place (default: nothing to do)."""

    def __init__(self, cfg: SAEConfig):
        super().__init__()
        self.cfg = cfg
        kw = {"dtype": cfg.torch_dtype, "device": cfg.device}
        self.W_enc = nn.Parameter(torch.empty(cfg.d_in, cfg.d_sae, **kw))
        self.b_enc = nn.Parameter(torch.zeros(cfg.d_sae, **kw))
        self.W_dec = nn.Parameter(torch.empty(cfg.d_sae, cfg.d_in, **kw))
        self.b_dec = nn.Parameter(torch.zeros(cfg.d_in, **kw))
        self.reset_parameters()

    # Dictionary protocol
    @property
    def hook_in(self) -> str:
        """The hook it reads."""
        return self.cfg.hook_name

    @property
    def hook_out(self) -> str:
        """The hook it reconstructs: an SAE's own input hook."""
        return self.cfg.hook_name

    @property
    def hook_name(self) -> str:
        """hook_in (the name every SAE had before dictionaries could read one hook and write another)."""
        return self.hook_in

    @property
    def d_in(self) -> int:
        return self.cfg.d_in

    @property
    def d_sae(self) -> int:
        return self.cfg.d_sae

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Init per docs/methods.md §1: W_dec rows random unit vectors, W_enc = W_decᵀ, biases zero."""
        W_dec_FD = torch.randn(self.cfg.d_sae, self.cfg.d_in, dtype=torch.float32, device=self.W_dec.device)
        W_dec_FD /= W_dec_FD.norm(dim=-1, keepdim=True)
        self.W_dec.copy_(W_dec_FD)
        self.W_enc.copy_(W_dec_FD.T)
        self.b_enc.zero_()
        self.b_dec.zero_()

    @torch.no_grad()
    def init_b_dec_(self, x_BD: Float[Tensor, "batch d_in"], method: Literal["mean", "median"] = "mean") -> None:
        """Set b_dec to the mean or geometric median (Weiszfeld, 20 steps) of a first batch of raw activations."""
        xs_BD = x_BD.to(torch.float32).reshape(-1, self.cfg.d_in) * self.cfg.act_scale
        centre_D = xs_BD.mean(0)
        if method == "median":
            for _ in range(20):
                w_B = 1 / (xs_BD - centre_D).norm(dim=-1).clamp_min(1e-8)
                centre_D = (w_B[:, None] * xs_BD).sum(0) / w_B.sum()
        self.b_dec.copy_(centre_D)

    @torch.no_grad()
    def init_sparsity_(self, x_BD: Float[Tensor, "batch d_in"], l0: float) -> None:
        """Start the code at about `l0` active latents per token, set from a first batch of raw activations.
        Architectures whose sparsity is learned (ReLU's bias, JumpReLU's thresholds) override this; TopK-style ones
        are at k from the start."""

    @torch.no_grad()
    def _per_latent_quantile(self, x_BD: Tensor, l0: float) -> Tensor:
        """Per latent, the pre-activation value exceeded on a share l0 / d_sae of the batch's tokens."""
        h_BF = self.pre_acts(x_BD.reshape(-1, self.cfg.d_in)).float()
        q = 1.0 - min(max(l0 / self.cfg.d_sae, 1.0 / h_BF.shape[0]), 1.0)
        return torch.quantile(h_BF, q, dim=0)

    def _scale_in(self, x: Tensor) -> Tensor:
        x = x.to(self.W_enc.dtype)
        return x if self.cfg.act_scale == 1.0 else x * self.cfg.act_scale

    def _scale_out(self, x: Tensor) -> Tensor:
        return x if self.cfg.act_scale == 1.0 else x / self.cfg.act_scale

    def pre_acts_scaled(self, xs: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_sae"]:
        """h from already-normalised inputs x·s."""
        if torch.is_grad_enabled() and xs.dim() == 2 and not xs.requires_grad:
            return _PreActsFn.apply(xs, self.W_enc, self.b_enc, self.b_dec)
        return (xs - self.b_dec) @ self.W_enc + self.b_enc

    def pre_acts(self, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_sae"]:
        """h = (x·s - b_dec) @ W_enc + b_enc."""
        return self.pre_acts_scaled(self._scale_in(x))

    def activation(self, h: Float[Tensor, "... d_sae"]) -> Float[Tensor, "... d_sae"]:
        raise NotImplementedError

    sparse_step: bool = True
    """Whether `loss` may take the sparse step (sparse_gate.py) when the code is sparse (ReLU, JumpReLU)."""

    def use_sparse_step(self, xs_BD: Float[Tensor, "batch d_in"], threshold_F: Float[Tensor, " d_sae"] | None = None,
                        bandwidth: float = 0.0) -> bool:
        """Training on CPU on a batch whose code support is at most SPARSE_BELOW dense (checked on its first rows).
        On a GPU the dense step stays: there dense matmuls are cheap and the sparse one was 2x slower (H100)."""
        if not (self.sparse_step and torch.is_grad_enabled() and xs_BD.dim() == 2 and not xs_BD.requires_grad
                and xs_BD.device.type == "cpu"):
            return False
        th = None if threshold_F is None else threshold_F.detach().to(xs_BD.dtype)
        return support_fraction(xs_BD, self.W_enc.detach(), self.b_enc.detach(), self.b_dec.detach(), th,
                                bandwidth) <= SPARSE_BELOW

    def sparse_losses(self, xs_BD: Float[Tensor, "batch d_in"], code: SparseCode, sparsity: Float[Tensor, ""]
                      ) -> SAELosses:
        """The losses of a sparse step (no auxiliary term): MSE of the reconstruction plus `sparsity`."""
        mse = mse_loss(xs_BD, code.recon_BD + self.b_dec)
        zero = torch.zeros((), dtype=mse.dtype, device=mse.device)
        return SAELosses(mse=mse, sparsity=sparsity, aux=zero, total=mse + sparsity, l0=code.l0_B.mean().detach(),
                         fire_counts=code.fire_counts_F)

    def encode(self, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_sae"]:
        return self.activation(self.pre_acts(x))

    def decode_scaled(self, f: Float[Tensor, "... d_sae"]) -> Float[Tensor, "... d_in"]:
        """Reconstruction in normalised space: f @ W_dec + b_dec."""
        return f.to(self.W_dec.dtype) @ self.W_dec + self.b_dec

    def decode(self, f: Float[Tensor, "... d_sae"]) -> Float[Tensor, "... d_in"]:
        return self._scale_out(self.decode_scaled(f))

    def forward(self, x: Float[Tensor, "... d_in"]) -> SAEOutput:
        h = self.pre_acts(x)
        f = self.activation(h)
        return SAEOutput(self.decode(f), f, h)

    def feature_directions(self) -> Float[Tensor, "d_sae d_in"]:
        """Decoder rows (each latent's write direction), detached."""
        return self.W_dec.detach()

    def step_loss(self, ctx: StepContext) -> SAELosses:
        """The training loss of one step (the trainer's one call for every architecture); kinds with a sparsity
        coefficient override it to pass ctx.sparsity_coeff."""
        return self.loss(ctx.x, dead_mask=ctx.dead_mask)

    def loss(self, x: Float[Tensor, "batch d_in"], dead_mask: Bool[Tensor, " d_sae"] | None = None) -> SAELosses:
        """The training losses of one batch of raw activations; dead_mask marks latents that have not fired lately."""
        raise NotImplementedError

    # decoder-norm helpers
    @torch.no_grad()
    def normalise_decoder_(self) -> None:
        """Renormalise every decoder row to unit norm."""
        self.W_dec.div_(self.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-8))

    @torch.no_grad()
    def remove_parallel_grad_(self) -> None:
        """Remove from W_dec.grad the component parallel to each row, so a small step keeps row norms fixed."""
        if self.W_dec.grad is None:
            return
        W_FD = self.W_dec
        G_FD = self.W_dec.grad
        coef_F = (G_FD * W_FD).sum(-1, keepdim=True) / W_FD.pow(2).sum(-1, keepdim=True).clamp_min(1e-12)
        G_FD.sub_(coef_F * W_FD)

    def before_optimizer_step(self) -> None:
        """Call between backward() and optimizer.step()."""
        if self.cfg.unit_norm_decoder:
            self.remove_parallel_grad_()

    def after_optimizer_step(self) -> None:
        """Call after optimizer.step(): re-impose the architecture's weight constraints."""
        if self.cfg.unit_norm_decoder:
            self.normalise_decoder_()

    # saving
    @torch.no_grad()
    def folded_state_dict(self) -> dict[str, Shaped[Tensor, "*shape"]]:
        """Detached copies of the inference weights with act_scale folded in (the model is left unchanged)."""
        s = self.cfg.act_scale
        sd = {k: v.detach().clone() for k, v in self.state_dict().items()}
        if s != 1.0:
            sd["W_enc"] = sd["W_enc"] * s
            sd["W_dec"] = sd["W_dec"] / s
            sd["b_dec"] = sd["b_dec"] / s
        return sd

    def saelens_state(self) -> dict[str, Shaped[Tensor, "*shape"]]:
        """The tensors its SAELens save holds, by our names (act_scale folded in); kinds saved in another form add
        theirs (BatchTopK: the JumpReLU threshold)."""
        return self.folded_state_dict()

    def saelens_cfg_fields(self) -> dict[str, Any]:
        """Keys its SAELens cfg.json has beyond the common ones (TopK: k)."""
        return {}

    @torch.no_grad()
    def fold_act_scale_(self) -> None:
        """Fold act_scale into the weights in place and set it to 1; encode/decode of raw inputs are unchanged."""
        sd = self.folded_state_dict()
        for name in ("W_enc", "W_dec", "b_dec"):
            getattr(self, name).copy_(sd[name])
        self.cfg.act_scale = 1.0
