"""A zoo of standard architectures, written the way their authors write them, for `actlab audit`
and `actlab.fold` (random weights, nothing downloaded). Importable wherever actlab is installed:

    actlab audit actlab.zoo:resnet18 --input-shape 3,64,64 --batch 8
    actlab audit actlab.zoo:resnet18_affine --input-shape 3,64,64 --batch 8 --fold folded.pt2

Each factory returns a model in eval mode with random BatchNorm statistics; ``ZOO`` lists
them with one input's shape, the expected verdict and the first module that owns a
nonlinearity (what the tests check and ``benchmarks/bench_audit.py`` times).

- ResNet-18: torchvision's code (BasicBlock, ``ReLU(inplace=True)`` called twice per block,
  ``out += identity``, max-pool, modules as attributes; layers are Sequentials of blocks).
  Affine twin: identity activations and an average pool in place of the max-pool.
- MobileNetV3-style: inverted residual blocks (expand 1×1, depthwise 3×3, squeeze-excite with
  ``F.adaptive_avg_pool2d`` and ``scale * input``, project 1×1), hardswish. Affine twin:
  identity activations, no squeeze-excite (a product of two functions of the input).
- Pre-LN transformer encoder (ViT-style tokens): LayerNorm, ``nn.MultiheadAttention``, GELU
  MLP, residual adds. Affine twin: no LayerNorm, identity GELU, and attention with fixed
  uniform weights (a token average) — softmax(QKᵀ)V is not affine however it is written.
- GPT-style (nanoGPT's Block): causal self-attention with ``F.scaled_dot_product_attention``,
  ``split``/``view``/``transpose``, GELU MLP. Affine twin as for the encoder, causal average.
- LSTM tagger: ``nn.LSTM`` over feature sequences, a Linear tag per step. Affine twin: a
  linear RNN h_t = W_ih x_t + W_hh h_{t−1} + b written as a loop (an LSTM's gates multiply).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# ------------------------------------------------------------------------------ ResNet-18


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None, act=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = act() if act else nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        out = self.relu(out)
        return out


class ResNet(nn.Module):
    def __init__(self, layers=(2, 2, 2, 2), num_classes: int = 10, act=None, pool=None):
        super().__init__()
        self.inplanes = 64
        self._act = act
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = act() if act else nn.ReLU(inplace=True)
        self.maxpool = pool if pool is not None else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes, stride), nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample, act=self._act)]
        self.inplanes = planes
        layers += [BasicBlock(self.inplanes, planes, act=self._act) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        x = self.fc(x)
        return x


def _random_bn_stats(model: nn.Module, seed: int) -> nn.Module:
    """Random BatchNorm statistics and affine parameters (a trained model's are not 0 and 1), eval mode."""
    g = torch.Generator().manual_seed(seed + 1)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.2)
    return model.eval()


def resnet18(num_classes: int = 10, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return _random_bn_stats(ResNet(num_classes=num_classes), seed)


def resnet18_affine(num_classes: int = 10, seed: int = 0) -> nn.Module:
    """ResNet-18 with identity activations and a 3×3 stride-2 average pool: affine."""
    torch.manual_seed(seed)
    model = ResNet(num_classes=num_classes, act=nn.Identity, pool=nn.AvgPool2d(kernel_size=3, stride=2, padding=1))
    return _random_bn_stats(model, seed)


# ------------------------------------------------------------------------------ MobileNetV3-style


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation: x · hardsigmoid(fc2(relu(fc1(avgpool(x)))))."""

    def __init__(self, input_channels: int, squeeze_channels: int):
        super().__init__()
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Hardsigmoid()

    def _scale(self, input: torch.Tensor) -> torch.Tensor:
        scale = F.adaptive_avg_pool2d(input, 1)
        scale = self.fc1(scale)
        scale = self.activation(scale)
        scale = self.fc2(scale)
        return self.scale_activation(scale)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        scale = self._scale(input)
        return scale * input


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, expanded: int, cout: int, stride: int, act, use_se: bool):
        super().__init__()
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[nn.Module] = [
            nn.Conv2d(cin, expanded, 1, bias=False), nn.BatchNorm2d(expanded), act(),
            nn.Conv2d(expanded, expanded, 3, stride, 1, groups=expanded, bias=False), nn.BatchNorm2d(expanded), act(),
        ]
        if use_se:
            layers.append(SqueezeExcitation(expanded, max(8, expanded // 4)))
        layers += [nn.Conv2d(expanded, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.block = nn.Sequential(*layers)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        result = self.block(input)
        if self.use_res_connect:
            result += input
        return result


class MobileNetV3Small(nn.Module):
    def __init__(self, num_classes: int = 10, act=nn.Hardswish, use_se: bool = True):
        super().__init__()
        self.features = nn.Sequential(
            nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), act()),
            InvertedResidual(16, 64, 24, 2, act, use_se),
            InvertedResidual(24, 72, 24, 1, act, use_se),
            InvertedResidual(24, 96, 40, 2, act, use_se),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(40, 64), act(), nn.Dropout(0.2), nn.Linear(64, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def mobilenet(num_classes: int = 10, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return _random_bn_stats(MobileNetV3Small(num_classes), seed)


def mobilenet_affine(num_classes: int = 10, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return _random_bn_stats(MobileNetV3Small(num_classes, act=nn.Identity, use_se=False), seed)


# ------------------------------------------------------------------------------ transformers


class MeanAttention(nn.Module):
    """Attention with fixed uniform weights (a token average, causal if asked): affine in x.
    Called like nn.MultiheadAttention (query, key, value) → (output, None)."""

    def __init__(self, embed_dim: int, causal: bool = False):
        super().__init__()
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        self.causal = causal

    def forward(self, query, key=None, value=None, need_weights: bool = False):
        v = self.v_proj(query if value is None else value)  # (B, T, C)
        T = v.shape[1]
        w = torch.tril(torch.ones(T, T, dtype=v.dtype)) if self.causal else torch.ones(T, T, dtype=v.dtype)
        w = w / w.sum(dim=1, keepdim=True)  # fixed weights, rows sum to 1
        return self.out_proj(w @ v), None


class EncoderBlock(nn.Module):
    """Pre-LN transformer encoder block (ViT): x + MHA(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, n_heads: int, affine: bool = False):
        super().__init__()
        self.norm1 = nn.Identity() if affine else nn.LayerNorm(dim)
        self.attn = MeanAttention(dim) if affine else nn.MultiheadAttention(dim, n_heads, batch_first=True)
        self.norm2 = nn.Identity() if affine else nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.Identity() if affine else nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        x = x + self.mlp(self.norm2(x))
        return x


class TinyViT(nn.Module):
    """Patch embedding (a strided conv), class token, learned positions, pre-LN blocks, head."""

    def __init__(self, image_size=64, patch=8, dim=192, depth=2, n_heads=3, num_classes=10, affine=False):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, stride=patch)
        n_tokens = (image_size // patch) ** 2 + 1
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, n_tokens, dim) * 0.02)
        self.blocks = nn.ModuleList(EncoderBlock(dim, n_heads, affine) for _ in range(depth))
        self.norm = nn.Identity() if affine else nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # (B, T, C)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return self.head(x[:, 0])


def vit(seed: int = 0, **sizes) -> nn.Module:
    torch.manual_seed(seed)
    return TinyViT(**sizes).eval()


def vit_affine(seed: int = 0, **sizes) -> nn.Module:
    torch.manual_seed(seed)
    return TinyViT(affine=True, **sizes).eval()


class CausalSelfAttention(nn.Module):
    """nanoGPT's attention: one Linear for q, k, v; heads by view/transpose; causal SDPA."""

    def __init__(self, n_embd: int, n_head: int, affine: bool = False):
        super().__init__()
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.n_head, self.n_embd, self.affine = n_head, n_embd, affine

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        if self.affine:  # fixed causal average instead of softmax(q kᵀ)
            w = torch.tril(torch.ones(T, T, dtype=v.dtype))
            y = (w / w.sum(dim=1, keepdim=True)) @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, n_embd: int, affine: bool = False):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd)
        self.gelu = nn.Identity() if affine else nn.GELU()
        self.c_proj = nn.Linear(4 * n_embd, n_embd)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, affine: bool = False):
        super().__init__()
        self.ln_1 = nn.Identity() if affine else nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, affine)
        self.ln_2 = nn.Identity() if affine else nn.LayerNorm(n_embd)
        self.mlp = MLP(n_embd, affine)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class TinyGPT(nn.Module):
    """nanoGPT on embedded tokens (B, T, C) — the token embedding is a lookup, not a function
    of a continuous input — with learned positions, blocks, final LayerNorm and a head."""

    def __init__(self, block_size=64, n_embd=128, n_head=4, n_layer=2, vocab_size=100, affine=False):
        super().__init__()
        self.wpe = nn.Embedding(block_size, n_embd)
        self.h = nn.ModuleList(Block(n_embd, n_head, affine) for _ in range(n_layer))
        self.ln_f = nn.Identity() if affine else nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)

    def forward(self, tok_emb: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(0, tok_emb.size(1), dtype=torch.long, device=tok_emb.device)
        x = tok_emb + self.wpe(pos)
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)
        return self.lm_head(x)


def gpt(seed: int = 0, **sizes) -> nn.Module:
    torch.manual_seed(seed)
    return TinyGPT(**sizes).eval()


def gpt_affine(seed: int = 0, **sizes) -> nn.Module:
    torch.manual_seed(seed)
    return TinyGPT(affine=True, **sizes).eval()


# ------------------------------------------------------------------------------ LSTM tagger


class LinearRNN(nn.Module):
    """h_t = W_ih x_t + W_hh h_{t−1} + b, batch first; returns (outputs, h_T) like nn.RNN."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.ih = nn.Linear(input_size, hidden_size)
        self.hh = nn.Linear(hidden_size, hidden_size, bias=False)
        nn.init.orthogonal_(self.hh.weight)

    def forward(self, x):
        h = x.new_zeros(x.shape[0], self.hh.in_features)
        outs = []
        for t in range(x.shape[1]):
            h = self.ih(x[:, t]) + self.hh(h)
            outs.append(h)
        return torch.stack(outs, dim=1), h


class LSTMTagger(nn.Module):
    """A sequence tagger: features (B, T, F) → LSTM → a tag score per step (B, T, n_tags)."""

    def __init__(self, n_features=64, hidden=128, n_tags=10, affine=False):
        super().__init__()
        self.lstm = LinearRNN(n_features, hidden) if affine else nn.LSTM(n_features, hidden, batch_first=True)
        self.hidden2tag = nn.Linear(hidden, n_tags)

    def forward(self, x):
        lstm_out, _ = self.lstm(x)
        return self.hidden2tag(lstm_out)


def lstm_tagger(seed: int = 0, **sizes) -> nn.Module:
    torch.manual_seed(seed)
    return LSTMTagger(**sizes).eval()


def lstm_tagger_affine(seed: int = 0, **sizes) -> nn.Module:
    torch.manual_seed(seed)
    return LSTMTagger(affine=True, **sizes).eval()


# name → (factory, one input's shape, expected is_affine, expected first_nonlinear)
ZOO: dict[str, tuple] = {
    "resnet18": (resnet18, (3, 64, 64), False, "relu"),
    "resnet18_affine": (resnet18_affine, (3, 64, 64), True, None),
    "mobilenet": (mobilenet, (3, 64, 64), False, "features.0.2"),
    "mobilenet_affine": (mobilenet_affine, (3, 64, 64), True, None),
    "vit": (vit, (3, 64, 64), False, "blocks.0.norm1"),
    "vit_affine": (vit_affine, (3, 64, 64), True, None),
    "gpt": (gpt, (64, 128), False, "h.0.ln_1"),
    "gpt_affine": (gpt_affine, (64, 128), True, None),
    "lstm_tagger": (lstm_tagger, (32, 64), False, "lstm"),
    "lstm_tagger_affine": (lstm_tagger_affine, (32, 64), True, None),
}
