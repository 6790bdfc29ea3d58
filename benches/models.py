"""PyTorch mirrors of htlbench's networks and gradient strategies.

Shared by `pytorch_reference.py` (per-step throughput) and `e2e_pytorch.py` (the quickstart
sweep). Shapes and initial-value scales follow the Rust code:

* `src/model/blocks.rs`: linear layers initialised like PyTorch's `nn.Linear` (weight and
  bias uniform in +-1/sqrt(d_in)) -- so plain `nn.Linear` already matches; per-field
  embedding tables N(0, 0.01^2); numeric features -> one extra field through a Linear.
  Tower = ReLU MLP + 1-unit head whose bias starts at logit(train rate) (binary) or the mean
  of the transformed core target (regression).
* `baselines/shared_bottom/mod.rs`, `baselines/mmoe/mod.rs`, `src/htlnet/{mod,leu,ifu}.rs`.
* `src/optim/{htl,pcgrad,metabalance}.rs`: every strategy is a function of the Gram matrix
  K[i][j] = <g_i, g_j> of the per-task shared gradients and returns A with
  adjusted_t = sum_j A[t][j] g_j; the shared gradient is sum_t adjusted_t.
* `src/train/step.rs`: BCE with logits for binary tasks, MSE for the core task, summed.

Per-task gradients are taken the natural PyTorch way: one forward, then
`torch.autograd.grad(L_t, params, retain_graph=True)` per task (the Rust side has no
retain_graph and uses per-task detached leaves plus surrogate backward passes instead).
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn as nn
import torch.nn.functional as F

EMBED_INIT_STD = 0.01


# --------------------------------------------------------------------------- blocks
class FieldEmbedding(nn.Module):
    """One `nn.Embedding` per categorical field (+ numeric projection as an extra field)."""

    def __init__(self, vocabs, n_numeric, dim):
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(v, dim) for v in vocabs)
        for t in self.tables:
            nn.init.normal_(t.weight, 0.0, EMBED_INIT_STD)
        self.numeric = nn.Linear(n_numeric, dim) if n_numeric > 0 else None
        self.dim = dim

    def out_dim(self):
        return (len(self.tables) + (1 if self.numeric is not None else 0)) * self.dim

    def forward(self, cat, num=None):
        parts = [t(idx) for t, idx in zip(self.tables, cat)]
        if self.numeric is not None and num is not None:
            parts.append(self.numeric(num))
        return torch.cat(parts, 1)


class Mlp(nn.Module):
    def __init__(self, d_in, hidden, dropout=0.0):
        super().__init__()
        layers, d = [], d_in
        for h in hidden:
            layers.append(nn.Linear(d, h))
            d = h
        self.layers = nn.ModuleList(layers)
        self.dropout = dropout
        self.out = d

    def forward_all(self, x):
        out, h = [], x
        for l in self.layers:
            h = F.relu(l(h))
            if self.dropout > 0:
                h = F.dropout(h, self.dropout, self.training)
            out.append(h)
        return out

    def forward(self, x):
        h = x
        for l in self.layers:
            h = F.relu(l(h))
            if self.dropout > 0:
                h = F.dropout(h, self.dropout, self.training)
        return h


class Tower(nn.Module):
    def __init__(self, d_in, hidden, bias, dropout=0.0):
        super().__init__()
        self.mlp = Mlp(d_in, hidden, dropout)
        self.head = nn.Linear(self.mlp.out, 1)
        with torch.no_grad():
            self.head.bias.fill_(bias)

    def forward(self, x):
        return self.head(self.mlp(x)).squeeze(1)

    def forward_all(self, x):
        hs = self.mlp.forward_all(x)
        last = hs[-1] if hs else x
        return hs, self.head(last).squeeze(1)


# --------------------------------------------------------------------------- models
class SharedBottom(nn.Module):
    """baselines/shared_bottom: shared MLP over the embedding, one tower per task."""

    def __init__(self, vocabs, n_numeric, binary, init_bias, embed_dim=16, bottom=(256, 128),
                 tower=(64, 32), dropout=0.0):
        super().__init__()
        self.embedding = FieldEmbedding(vocabs, n_numeric, embed_dim)
        self.bottom = Mlp(self.embedding.out_dim(), bottom, dropout)
        self.towers = nn.ModuleList(Tower(self.bottom.out, tower, b, dropout) for b in init_bias)
        self.binary = list(binary)

    def shared_params(self):
        return list(self.embedding.parameters()) + list(self.bottom.parameters())

    def forward(self, cat, num=None, step=0):
        z = self.bottom(self.embedding(cat, num))
        return [t(z) for t in self.towers]


class Gate(nn.Module):
    def __init__(self, d_in, n):
        super().__init__()
        self.linear = nn.Linear(d_in, n)

    def forward(self, x):
        return F.softmax(self.linear(x), 1)


class Mmoe(nn.Module):
    """baselines/mmoe: n expert MLPs on the embedding, a softmax gate per task (gate_bn off)."""

    def __init__(self, vocabs, n_numeric, binary, init_bias, embed_dim=16, n_experts=4,
                 expert=(256, 128), tower=(64, 32), dropout=0.0):
        super().__init__()
        self.embedding = FieldEmbedding(vocabs, n_numeric, embed_dim)
        d_e = self.embedding.out_dim()
        self.experts = nn.ModuleList(Mlp(d_e, expert, dropout) for _ in range(n_experts))
        d_x = self.experts[0].out
        self.gates = nn.ModuleList(Gate(d_e, n_experts) for _ in init_bias)
        self.towers = nn.ModuleList(Tower(d_x, tower, b, dropout) for b in init_bias)
        self.binary = list(binary)

    def shared_params(self):
        return list(self.embedding.parameters()) + list(self.experts.parameters())

    def forward(self, cat, num=None, step=0):
        e = self.embedding(cat, num)
        xs = torch.stack([ex(e) for ex in self.experts], 1)  # [b, n, d]
        out = []
        for gate, tower in zip(self.gates, self.towers):
            g = gate(e)
            f = (xs * g.unsqueeze(2)).sum(1)
            out.append(tower(f))
        return out


class AttentionIfu(nn.Module):
    """src/htlnet/ifu.rs: a_j = softmax_j(<W2 u_j, W3 u_j>/sqrt(k)); fused = sum_j a_j W1 u_j."""

    def __init__(self, d_in, k):
        super().__init__()
        self.w1 = nn.Linear(d_in, k, bias=False)
        self.w2 = nn.Linear(d_in, k, bias=False)
        self.w3 = nn.Linear(d_in, k, bias=False)
        self.k = k

    def forward(self, items):
        values = [self.w1(u) for u in items]
        scores = [(self.w2(u) * self.w3(u)).sum(1, keepdim=True) for u in items]
        w = F.softmax(torch.cat(scores, 1) / math.sqrt(self.k), 1)
        v = torch.stack(values, 1)
        return (v * w.unsqueeze(2)).sum(1)


class Leu(nn.Module):
    """src/htlnet/leu.rs: a 2 x d_l table read with a Gumbel-softmax of the detached p."""

    def __init__(self, dim):
        super().__init__()
        self.table = nn.Parameter(torch.randn(2, dim) * EMBED_INIT_STD)

    @staticmethod
    def distribution(p, tau, training):
        p = p.clamp(1e-7, 1 - 1e-7).unsqueeze(1)
        logits = torch.cat([p.log(), (1 - p).log()], 1)
        if training:
            u = torch.empty_like(logits).uniform_(1e-10, 1.0)
            logits = logits - (-u.log()).log()
        return F.softmax(logits / tau, 1)

    def forward(self, s):
        return s @ self.table


class HtlNet(nn.Module):
    """src/htlnet: towers on the shared embedding, LEU + attention IFU down the chain,
    stop-gradient on rep (first hidden layer) and on p."""

    def __init__(self, vocabs, n_numeric, binary, init_bias, embed_dim=16, tower=(128, 64, 32),
                 label_dim=10, ifu_dim=32, rep_layer="first", stop_grad=True,
                 tau=(10.0, 0.9, 100, 0.5), dropout=0.0):
        super().__init__()
        self.embedding = FieldEmbedding(vocabs, n_numeric, embed_dim)
        e_dim = self.embedding.out_dim()
        n = len(binary)
        self.binary = list(binary)
        self.rep_index = len(tower) - 1 if rep_layer == "last" else 0
        rep_dim = tower[self.rep_index]
        towers, leus, ifu_rep, ifu_le = [], [], [], []
        for t in range(n):
            n_le = sum(1 for j in range(t) if binary[j])
            r = AttentionIfu(rep_dim, ifu_dim) if t > 0 else None
            l = AttentionIfu(label_dim, ifu_dim) if n_le > 0 else None
            d_in = e_dim + (ifu_dim if r is not None else 0) + (ifu_dim if l is not None else 0)
            towers.append(Tower(d_in, tower, init_bias[t], dropout))
            leus.append(Leu(label_dim) if (binary[t] and t + 1 < n) else None)
            ifu_rep.append(r)
            ifu_le.append(l)
        self.towers = nn.ModuleList(towers)
        # ModuleList cannot hold None: keep index maps.
        self.leus = nn.ModuleDict({str(t): m for t, m in enumerate(leus) if m is not None})
        self.ifu_rep = nn.ModuleDict({str(t): m for t, m in enumerate(ifu_rep) if m is not None})
        self.ifu_le = nn.ModuleDict({str(t): m for t, m in enumerate(ifu_le) if m is not None})
        self.stop_grad = stop_grad
        self.tau = tau

    def shared_params(self):
        return list(self.embedding.parameters())

    def tau_at(self, step):
        start, factor, every, floor = self.tau
        return max(floor, start * factor ** (step // max(every, 1)))

    # The trunk is exactly the field embedding (Rust: `embedding_trunk()`), so a per-task
    # step may run the heads on per-task copies of `e` (see Stepper, per_task="rows").
    embedding_trunk = True

    def forward(self, cat, num=None, step=0):
        e = self.embedding(cat, num)
        return self.heads([e] * len(self.towers), step)

    def heads(self, es, step=0):
        """Task t reads its own copy `es[t]` of the embedding output."""
        tau = self.tau_at(step)
        reps, les, preds = [], [], []
        for t, tower in enumerate(self.towers):
            e = es[t]
            parts = []
            k = str(t)
            if k in self.ifu_rep:
                parts.append(self.ifu_rep[k](reps))
            if k in self.ifu_le:
                parts.append(self.ifu_le[k](les))
            parts.append(e)
            x = torch.cat(parts, 1)
            hidden, out = tower.forward_all(x)
            rep = hidden[self.rep_index]
            reps.append(rep.detach() if self.stop_grad else rep)
            if k in self.leus:
                p = torch.sigmoid(out).detach()
                les.append(self.leus[k](Leu.distribution(p, tau, self.training)))
            preds.append(out)
        return preds


def _mix(weights, experts):
    """baselines/common.rs mix: sum_j w[:, j] * experts[j]."""
    return (torch.stack(experts, 1) * weights.unsqueeze(2)).sum(1)


class Dnn(nn.Module):
    """baselines/dnn: one independent network per task (own embedding, bottom, tower);
    no shared parameters, so per-task strategies take a plain step."""

    def __init__(self, vocabs, n_numeric, binary, init_bias, embed_dim=16, bottom=(256, 128),
                 tower=(64, 32), dropout=0.0):
        super().__init__()
        self.embeddings = nn.ModuleList()
        self.bottoms = nn.ModuleList()
        self.towers = nn.ModuleList()
        for b in init_bias:
            emb = FieldEmbedding(vocabs, n_numeric, embed_dim)
            mlp = Mlp(emb.out_dim(), bottom, dropout)
            self.embeddings.append(emb)
            self.bottoms.append(mlp)
            self.towers.append(Tower(mlp.out, tower, b, dropout))
        self.binary = list(binary)

    def shared_params(self):
        return []

    def forward(self, cat, num=None, step=0):
        return [t(m(e(cat, num))) for e, m, t in zip(self.embeddings, self.bottoms, self.towers)]


def conditional_biases(marginal_logits):
    """baselines/esmm conditional_biases: logit of rate_t / rate_{t-1} for t > 0."""
    rate = lambda z: 1.0 / (1.0 + math.exp(-z))  # noqa: E731
    out = []
    for t, z in enumerate(marginal_logits):
        if t == 0:
            out.append(z)
            continue
        c = min(max(rate(z) / rate(marginal_logits[t - 1]), 1e-6), 1 - 1e-6)
        out.append(math.log(c / (1 - c)))
    return out


class Esmm(nn.Module):
    """baselines/esmm (core_mode separate): towers on the shared embedding; binary task t > 0
    predicts the product of conditional probabilities (BCE on probabilities)."""

    def __init__(self, vocabs, n_numeric, binary, init_bias, embed_dim=16, tower=(128, 64, 32),
                 dropout=0.0, core_mode="separate"):
        super().__init__()
        if core_mode != "separate":
            raise ValueError("only core_mode: separate is mirrored")
        self.embedding = FieldEmbedding(vocabs, n_numeric, embed_dim)
        k = sum(1 for b in binary if b)
        bias = conditional_biases(list(init_bias[:k])) + list(init_bias[k:])
        self.towers = nn.ModuleList(Tower(self.embedding.out_dim(), tower, b, dropout) for b in bias)
        self.binary = list(binary)
        self.kinds = []
        for t, b in enumerate(binary):
            self.kinds.append("value" if not b else ("logit" if t == 0 else "prob"))

    def shared_params(self):
        return list(self.embedding.parameters())

    def forward(self, cat, num=None, step=0):
        e = self.embedding(cat, num)
        preds, chain = [], None
        for t, tower in enumerate(self.towers):
            out = tower(e)
            if not self.binary[t]:
                preds.append(out)
                continue
            c = torch.sigmoid(out)
            if chain is None:
                preds.append(out)
                chain = c
            else:
                chain = chain * c
                preds.append(chain)
        return preds


class Aitm(nn.Module):
    """baselines/aitm (defaults): towers 128-64-32 on the embedding, for t > 0 a ReLU transfer
    of the previous task's z and one shared attention over [q_t, p_t], linear heads, and the
    calibrator alpha * mean(relu(p_t - p_{t-1})) added to task t's loss."""

    def __init__(self, vocabs, n_numeric, binary, init_bias, embed_dim=16, tower=(128, 64, 32),
                 head=(), dropout=0.0, alpha_cal=0.6, attention="shared", transfer="relu",
                 core_transfer=True):
        super().__init__()
        if attention != "shared" or transfer != "relu":
            raise ValueError("only attention: shared, transfer: relu are mirrored")
        self.embedding = FieldEmbedding(vocabs, n_numeric, embed_dim)
        d_e = self.embedding.out_dim()
        k = tower[-1]
        self.towers = nn.ModuleList(Mlp(d_e, tower, dropout) for _ in binary)
        self.linked = [t > 0 and (b or core_transfer) for t, b in enumerate(binary)]
        self.transfers = nn.ModuleDict({str(t): nn.Linear(k, k) for t, l in enumerate(self.linked) if l})
        self.attention = AttentionIfu(k, k)
        self.outputs = nn.ModuleList(Tower(k, head, b, dropout) for b in init_bias)
        self.binary = list(binary)
        self.alpha_cal = alpha_cal
        self.dropout = dropout

    def shared_params(self):
        return list(self.embedding.parameters())

    def forward(self, cat, num=None, step=0):
        e = self.embedding(cat, num)
        preds, prev = [], None
        for t, tower in enumerate(self.towers):
            q = tower(e)
            z = q
            if self.linked[t] and prev is not None:
                p = F.relu(self.transfers[str(t)](prev))
                if self.dropout > 0:
                    p = F.dropout(p, self.dropout, self.training)
                z = self.attention([q, p])
            preds.append(self.outputs[t](z))
            prev = z
        return preds

    def extra_losses(self, preds):
        if self.alpha_cal <= 0:
            return []
        probs = [torch.sigmoid(p) for p, b in zip(preds, self.binary) if b]
        return [(t, F.relu(probs[t] - probs[t - 1]).mean() * self.alpha_cal)
                for t in range(1, len(probs))]


class Ple(nn.Module):
    """baselines/ple (defaults): 2 CGC levels, 2 shared + 2 specific experts of [128] per
    level, softmax gates, a shared gate below the last level, towers 64-32."""

    def __init__(self, vocabs, n_numeric, binary, init_bias, embed_dim=16, levels=2,
                 shared_experts=2, specific_experts=2, expert=(128,), expert_layout="repeat",
                 tower=(64, 32), dropout=0.0, gate_bn=False):
        super().__init__()
        if gate_bn:
            raise ValueError("gate_bn is not mirrored")
        self.embedding = FieldEmbedding(vocabs, n_numeric, embed_dim)
        n = len(init_bias)
        widths = [(w,) for w in expert] if expert_layout == "split" else [tuple(expert)] * levels
        ms, mh = specific_experts, shared_experts
        d_in = self.embedding.out_dim()
        self.levels = nn.ModuleList()
        for l, w in enumerate(widths):
            last = l + 1 == len(widths)
            lvl = nn.Module()
            lvl.specific = nn.ModuleList(nn.ModuleList(Mlp(d_in, w, dropout) for _ in range(ms)) for _ in range(n))
            lvl.shared = nn.ModuleList(Mlp(d_in, w, dropout) for _ in range(mh))
            lvl.task_gates = nn.ModuleList(Gate(d_in, ms + mh) for _ in range(n))
            lvl.shared_gate = None if last else Gate(d_in, n * ms + mh)
            self.levels.append(lvl)
            d_in = w[-1]
        self.towers = nn.ModuleList(Tower(d_in, tower, b, dropout) for b in init_bias)
        self.binary = list(binary)

    def shared_params(self):
        # `shared: trunk` (htl's default): the embedding and every CGC level (experts and
        # gates below the towers), as baselines/ple/mod.rs shared_param_ids.
        return list(self.embedding.parameters()) + list(self.levels.parameters())

    def forward(self, cat, num=None, step=0):
        e = self.embedding(cat, num)
        n = len(self.towers)
        x, xs = [e] * n, e
        for lvl in self.levels:
            shared_out = [m(xs) for m in lvl.shared]
            specific_out = [[m(x[t]) for m in lvl.specific[t]] for t in range(n)]
            nxt = [_mix(lvl.task_gates[t](x[t]), specific_out[t] + shared_out) for t in range(n)]
            if lvl.shared_gate is not None:
                xs = _mix(lvl.shared_gate(xs), [o for outs in specific_out for o in outs] + shared_out)
            x = nxt
        return [tower(h) for tower, h in zip(self.towers, x)]


class Adatt(nn.Module):
    """baselines/adatt (defaults): 2 levels of per-task expert groups (2 experts of [128]),
    gates over all experts, learned native-expert residual weights (uniform +-sqrt(1/m))."""

    def __init__(self, vocabs, n_numeric, binary, init_bias, embed_dim=16, levels=2,
                 task_experts=2, shared_experts=0, expert=(128,), expert_layout="repeat",
                 residual=True, tower=(64, 32), dropout=0.0):
        super().__init__()
        self.embedding = FieldEmbedding(vocabs, n_numeric, embed_dim)
        n = len(init_bias)
        sizes = [task_experts] * n + ([shared_experts] if shared_experts > 0 else [])
        total = sum(sizes)
        self.residual = 0 if not residual else (1 if all(m == 1 for m in sizes) else 2)
        widths = [(w,) for w in expert] if expert_layout == "split" else [tuple(expert)] * levels
        d_in = self.embedding.out_dim()
        self.levels = nn.ModuleList()
        for l, w in enumerate(widths):
            top = l + 1 == len(widths)
            lvl = nn.Module()
            lvl.groups = nn.ModuleList(nn.ModuleList(Mlp(d_in, w, dropout) for _ in range(m)) for m in sizes)
            active = n if top else len(sizes)
            lvl.gates = nn.ModuleList(Gate(d_in, total) for _ in range(active))
            if self.residual == 2:
                lvl.native = nn.ParameterList(
                    nn.Parameter(torch.empty(sizes[i]).uniform_(-math.sqrt(1 / sizes[i]), math.sqrt(1 / sizes[i])))
                    for i in range(active))
            self.levels.append(lvl)
            d_in = w[-1]
        self.towers = nn.ModuleList(Tower(d_in, tower, b, dropout) for b in init_bias)
        self.binary = list(binary)

    def shared_params(self):
        return list(self.embedding.parameters())

    def forward(self, cat, num=None, step=0):
        e = self.embedding(cat, num)
        n = len(self.towers)
        x = [e] * n
        if len(self.levels[0].groups) > n:
            x.append(e)
        for lvl in self.levels:
            outs = [[m(xi) for m in g] for g, xi in zip(lvl.groups, x)]
            allx = [o for os_ in outs for o in os_]
            nxt = []
            for i, gate in enumerate(lvl.gates):
                f = _mix(gate(x[i]), allx)
                if self.residual == 1:
                    for o in outs[i]:
                        f = f + o
                elif self.residual == 2:
                    f = f + (torch.stack(outs[i], 1) * lvl.native[i].view(1, -1, 1)).sum(1)
                nxt.append(f)
            x = nxt
        return [tower(h) for tower, h in zip(self.towers, x)]


MODELS = {"shared_bottom": SharedBottom, "mmoe": Mmoe, "htlnet": HtlNet, "dnn": Dnn,
          "esmm": Esmm, "aitm": Aitm, "ple": Ple, "adatt": Adatt}


def build(model, vocabs, n_numeric, binary, init_bias, options):
    return MODELS[model](vocabs, n_numeric, binary, init_bias, **options)


def pred_kinds(model):
    """Per task: `logit` (BCE with logits), `prob` (BCE on clamped probabilities) or `value`."""
    return getattr(model, "kinds", None) or ["logit" if b else "value" for b in model.binary]


def task_losses(preds, labels, model):
    """src/train/step.rs task_losses: BCE with logits, BCE on probabilities clamped to
    [1e-7, 1 - 1e-7], or MSE on the transformed core target; plus the model's extra terms."""
    losses = []
    for p, y, k in zip(preds, labels, pred_kinds(model)):
        if k == "logit":
            losses.append(F.binary_cross_entropy_with_logits(p, y))
        elif k == "prob":
            p = p.clamp(1e-7, 1 - 1e-7)
            losses.append(-(y * p.log() + (1 - y) * (1 - p).log()).mean())
        else:
            losses.append(F.mse_loss(p, y))
    if hasattr(model, "extra_losses"):
        for t, extra in model.extra_losses(preds):
            losses[t] = losses[t] + extra
    return losses


def to_probability(model, preds):
    """Model outputs -> probabilities (binary) / transformed values (core)."""
    return [torch.sigmoid(p) if k == "logit" else p for p, k in zip(preds, pred_kinds(model))]


# --------------------------------------------------------------------------- strategies
def _unit(n, t):
    v = [0.0] * n
    v[t] = 1.0
    return v


def _quad(a, K, b):
    return sum(ai * K[i][j] * bj for i, ai in enumerate(a) if ai != 0.0 for j, bj in enumerate(b))


class HtlAdjust:
    """src/optim/htl.rs."""

    def __init__(self, target, alpha=1.0, gamma=0.1, clip=10.0):
        self.target, self.alpha, self.gamma, self.clip = target, alpha, gamma, clip

    def adjust(self, K):
        n, c = len(K), self.target
        gcc = K[c][c]
        A = []
        for t in range(n):
            row = _unit(n, t)
            if t == c or gcc <= 0.0:
                A.append(row)
                continue
            dot = K[t][c]
            if dot < 0.0:
                row[c] -= self.alpha * dot / gcc
            norm_t = math.sqrt(max(_quad(row, K, row), 0.0))
            if norm_t > 0.0:
                w = min(max(math.sqrt(gcc) / norm_t, 1.0 / self.clip), self.clip)
                s = self.gamma * w + (1.0 - self.gamma)
                row = [x * s for x in row]
            A.append(row)
        return A


class PcGrad:
    """src/optim/pcgrad.rs (random projection order per step)."""

    def __init__(self, seed=0, shuffle=True):
        self.rng = random.Random(seed)
        self.shuffle = shuffle

    def adjust(self, K):
        n = len(K)
        A = []
        for i in range(n):
            row = _unit(n, i)
            order = [j for j in range(n) if j != i]
            if self.shuffle:
                self.rng.shuffle(order)
            for j in order:
                gjj = K[j][j]
                if gjj <= 0.0:
                    continue
                d = _quad(row, K, _unit(n, j))
                if d < 0.0:
                    row[j] -= d / gjj
            A.append(row)
        return A


class MetaBalance:
    """src/optim/metabalance.rs (mode `all`)."""

    def __init__(self, n, target, r=0.7, beta=0.9):
        self.target, self.r, self.beta = target, r, beta
        self.avg = [None] * n

    def adjust(self, K):
        n = len(K)
        for t in range(n):
            norm = math.sqrt(max(K[t][t], 0.0))
            self.avg[t] = norm if self.avg[t] is None else self.beta * self.avg[t] + (1 - self.beta) * norm
        m_tar = self.avg[self.target] or 0.0
        A = []
        for t in range(n):
            row = _unit(n, t)
            m_t = self.avg[t] or 0.0
            if t != self.target and m_t > 0.0:
                row[t] = self.r * (m_tar / m_t) + (1.0 - self.r)
            A.append(row)
        return A


class Identity:
    """The identity combination (plain sum), used to log gradient statistics of `sum` runs."""

    def adjust(self, K):
        return [_unit(len(K), t) for t in range(len(K))]


def grad_stats(K, A, target):
    """src/optim/mod.rs grad_stats: per task |g_t|, |adjusted_t|, cos(g_t, g_core)."""
    out = []
    for t in range(len(K)):
        raw = math.sqrt(max(K[t][t], 0.0))
        adj = math.sqrt(max(_quad(A[t], K, A[t]), 0.0))
        den = raw * math.sqrt(max(K[target][target], 0.0))
        out.append({"task": t, "norm_raw": raw, "norm_adjusted": adj,
                    "cos_core": K[t][target] / den if den > 0 else float("nan")})
    return out


def build_strategy(name, n_tasks, target, seed=0):
    if name == "sum":
        return None
    if name == "htl":
        return HtlAdjust(target)
    if name == "pcgrad":
        return PcGrad(seed)
    if name == "metabalance":
        return MetaBalance(n_tasks, target)
    raise ValueError(f"unknown strategy {name}; valid: sum, htl, pcgrad, metabalance")


# --------------------------------------------------------------------------- one step
class Stepper:
    """One optimisation step, plain (sum of losses, one backward) or with a per-task strategy:
    per-task gradients by `torch.autograd.grad(L_t, params, retain_graph=True)`, Gram matrix of
    the flattened shared gradients, coefficients from the strategy, combined shared gradient;
    task-specific parameters get the gradient of the summed loss."""

    def __init__(self, model, optim, strategy, per_task="autograd"):
        if per_task not in ("autograd", "rows"):
            raise ValueError(f"per_task: autograd or rows, not {per_task}")
        self.model, self.optim, self.strategy = model, optim, strategy
        # "rows" (only for models whose trunk is the embedding: HTLNet) mirrors the Rust
        # step: per-task leaf copies of e, one backward over the heads, the Gram matrix of the
        # table gradients on the rows the batch touched, one backward of the combined
        # activation gradient through the embedding.
        self.rows = (per_task == "rows" and getattr(model, "embedding_trunk", False)
                     and model.stop_grad)  # separable: task t reaches e only via es[t]
        shared_ids = {id(p) for p in model.shared_params()}
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.is_shared = [id(p) in shared_ids for p in self.params]
        self.shared = [p for p, s in zip(self.params, self.is_shared) if s]
        self.specific = [p for p, s in zip(self.params, self.is_shared) if not s]

    def step(self, cat, num, labels, step, want_stats=False):
        """One step; returns the per-task loss values. With `want_stats`, a plain step goes
        through the per-task path with the identity combination (as the Rust trainer does on
        its gradient-statistics steps) and `self.last_stats` holds the statistics."""
        model, optim = self.model, self.optim
        strategy = self.strategy or (Identity() if want_stats else None)
        if not self.shared:  # no shared parameters (DNN): nothing to adjust, plain step
            strategy = None
        self.last_stats = None
        if strategy is not None and self.rows:
            optim.zero_grad(set_to_none=True)
            return self._step_rows(cat, num, labels, step, strategy, want_stats)
        preds = model(cat, num, step)
        losses = task_losses(preds, labels, model)
        values = [l.item() for l in losses]
        optim.zero_grad(set_to_none=True)
        if strategy is None:
            sum(losses).backward()
            optim.step()
            return values
        n = len(losses)
        per_task = []  # shared grads of each task
        specific = [None] * len(self.specific)
        for t, loss in enumerate(losses):
            gs = torch.autograd.grad(loss, self.params, retain_graph=t + 1 < n, allow_unused=True)
            sh, k = [], 0
            for g, p, s in zip(gs, self.params, self.is_shared):
                if s:
                    sh.append(torch.zeros_like(p) if g is None else g)
                else:
                    if g is not None:
                        specific[k] = g if specific[k] is None else specific[k] + g
                    k += 1
            per_task.append(sh)
        flat = torch.stack([torch.cat([g.reshape(-1) for g in gs]) for gs in per_task])
        K = (flat @ flat.T).double().tolist()
        A = strategy.adjust(K)
        if want_stats:
            self.last_stats = grad_stats(K, A, n - 1)
        coeffs = [sum(A[t][j] for t in range(n)) for j in range(n)]
        for i, p in enumerate(self.shared):
            acc = None
            for j in range(n):
                if coeffs[j] != 0.0:
                    term = per_task[j][i] * coeffs[j]
                    acc = term if acc is None else acc + term
            p.grad = acc
        for p, g in zip(self.specific, specific):
            p.grad = g
        optim.step()
        return values

    def _step_rows(self, cat, num, labels, step, strategy, want_stats):
        model, optim = self.model, self.optim
        emb = model.embedding
        e = emb(cat, num)
        n = len(model.towers)
        leaves = [e.detach().requires_grad_() for _ in range(n)]
        losses = task_losses(model.heads(leaves, step), labels, model)
        values = [l.item() for l in losses]
        sum(losses).backward()  # task-specific grads (summed) + each leaf's dL_t/de
        act = [l.grad for l in leaves]
        K = sparse_gram(emb, cat, num, act)
        A = strategy.adjust(K)
        if want_stats:
            self.last_stats = grad_stats(K, A, n - 1)
        coeffs = [sum(A[t][j] for t in range(n)) for j in range(n)]
        comb = sum(g * c for g, c in zip(act, coeffs))
        e.backward(comb)
        optim.step()
        return values


def sparse_gram(emb, cat, num, act):
    """Gram matrix of the per-task embedding gradients from the activation gradients
    `act[t]` ([batch, width]): each table's gradient is the scatter-add of its field's rows
    into the looked-up indices, so the inner products run over the touched rows only; the
    numeric projection's gradients are num^T g and sum_b g (Rust: `sparse_gram`)."""
    d = emb.dim
    blocks = []  # per field: [T, U*d]
    for f, idx in enumerate(cat):
        uniq, inv = torch.unique(idx, return_inverse=True)
        g = torch.stack([a[:, f * d:(f + 1) * d] for a in act])  # [T, B, d]
        agg = g.new_zeros(g.shape[0], uniq.numel(), d).index_add_(1, inv, g)
        blocks.append(agg.reshape(g.shape[0], -1))
    if emb.numeric is not None and num is not None:
        off = len(emb.tables) * d
        gn = torch.stack([a[:, off:off + d] for a in act])  # [T, B, d]
        w = torch.einsum("bm,tbd->tmd", num, gn).reshape(gn.shape[0], -1)
        blocks += [w, gn.sum(1)]
    m = torch.cat(blocks, 1).double()
    return (m @ m.T).tolist()
