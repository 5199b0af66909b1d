"""audit and fold on standard architectures written the way their authors write them
(src/actlab/zoo.py: ResNet-18, MobileNetV3-style, pre-LN ViT, nanoGPT, LSTM tagger, and their
affine twins); the model itself is the oracle."""

import copy

import pytest
import torch
from torch import nn

import actlab
from actlab.affine import relative_error
from actlab import zoo

# smaller inputs than the benchmark's, same architectures
SHAPES = {"resnet18": (3, 32, 32), "resnet18_affine": (3, 32, 32), "mobilenet": (3, 32, 32), "mobilenet_affine": (3, 32, 32)}


def _inputs(name: str, n: int = 4) -> torch.Tensor:
    shape = SHAPES.get(name, zoo.ZOO[name][1])
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_zoo_verdict_and_first_owner(name):
    factory, _, is_affine, first = zoo.ZOO[name]
    model = factory()
    r = actlab.audit(model, _inputs(name))
    assert r.is_affine is is_affine and r.first_nonlinear == first
    rows = {row.name: row for row in r.rows}
    if first is not None:  # the owner is a module (never the root here) that owns it
        assert rows[first].owns_nonlinearity and rows[first].affine is False
        assert not rows[""].owns_nonlinearity and rows[""].affine is False
    else:
        assert r.note == "" and all(row.affine is not False for row in r.rows)


@pytest.mark.parametrize("name", ["resnet18_affine", "vit_affine", "gpt_affine", "lstm_tagger_affine"])
def test_affine_twins_collapse_to_the_model_on_its_data(name):
    if name == "gpt_affine":  # the benchmark's size has a 6,400 × 8,192 map: a smaller one here
        model, x = zoo.gpt_affine(block_size=8, n_embd=32, vocab_size=20).double(), torch.randn(4, 8, 32)
    else:
        model, x = zoo.ZOO[name][0]().double(), _inputs(name)
    x = x.double()
    r = actlab.audit(model, x)
    m = r.map  # built on first access, certified on the inputs
    assert m is not None and m.verified
    z = x + 0.1 * torch.randn(x.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model(z)
    assert relative_error(m(z) - ref, ref) < 1e-10


def test_audit_builds_no_map_for_a_nonlinear_model(monkeypatch):
    """Cost: verdicts come from the combination test, never from per-module W."""
    import actlab.analysis.audit as A

    def refuse(*a, **k):
        raise AssertionError("audit built a map")

    monkeypatch.setattr(A, "map_on_data", refuse)
    r = actlab.audit(zoo.resnet18(), _inputs("resnet18", 2))
    assert not r.is_affine and r.map is None
    # modules with a nonlinear child are decided without a test; known-affine leaves too
    rows = {row.name: row for row in r.rows}
    assert not rows["layer1.0"].tested and rows["layer1.0"].affine is False
    assert not rows["conv1"].tested and rows["conv1"].affine is True
    assert rows["relu"].tested and rows[""].tested


def test_transformers_vit_and_gpt2_when_installed():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=64, num_hidden_layers=2,
                                 num_attention_heads=4, intermediate_size=128)
    vit = transformers.ViTModel(cfg, add_pooling_layer=False).eval()
    r = actlab.audit(vit, torch.randn(4, 3, 32, 32))
    assert not r.is_affine and r.first_nonlinear.endswith("0.layernorm_before")

    class Embeds(nn.Module):  # GPT-2 on embeddings: token ids are not a continuous input
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, e):
            return self.m(inputs_embeds=e).last_hidden_state

    gpt2 = Embeds(transformers.GPT2Model(transformers.GPT2Config(n_embd=64, n_layer=2, n_head=4, n_positions=32)).eval())
    r = actlab.audit(gpt2, torch.randn(4, 16, 64))
    assert not r.is_affine and r.first_nonlinear == "m.h.0.ln_1"


def test_fold_resnet18_leaves_no_batchnorm_and_matches():
    model = zoo.resnet18()
    x = _inputs("resnet18")
    folded = actlab.fold(model, x)
    assert sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()) == 20
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in folded.modules())
    assert len(folded.fold_report.merged) == 20 and folded.fold_report.max_rel_error < actlab.tolerance_for(torch.float32)
    z = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = copy.deepcopy(model).double()(z.double())
        assert relative_error(folded(z).double() - ref, ref) < 1e-5  # float32 rounding


def test_fold_of_the_affine_resnet_says_what_it_left():
    folded = actlab.fold(zoo.resnet18_affine(), _inputs("resnet18_affine"))
    rep = folded.fold_report
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in folded.modules())
    assert any("pads its input" in why for why in rep.left)  # 3×3 convs with padding 1 do not merge
    assert not any(isinstance(m, nn.Identity) for m in folded.modules())  # identity activations dropped
