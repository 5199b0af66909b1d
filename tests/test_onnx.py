"""ONNX files: audit node by node, collapse and check_affine through onnxruntime. Oracles: the
torch originals (their audit's verdict and first owner, their weights), closed forms."""

import json
import warnings

import pytest
import torch
from torch import nn

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")  # torch.onnx.export's exporter

import actlab  # noqa: E402
from actlab import onnx_model, zoo  # noqa: E402
from actlab.cli import main  # noqa: E402


def export(model, x, path, dynamic=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shapes = ({0: torch.export.Dim("batch", min=1)},) if dynamic else None
        torch.onnx.export(model.eval(), (x,), str(path), dynamo=True, dynamic_shapes=shapes, verbose=False)
    return str(path)


@pytest.fixture(scope="module")
def zoo_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx")
    out = {}
    for name, (factory, shape, _, _) in zoo.ZOO.items():
        torch.manual_seed(0)
        x = torch.randn(4, *shape)
        model = factory()
        out[name] = (export(model, x, d / f"{name}.onnx"), model, x)
    return out


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_zoo_verdicts_and_first_owners_equal_the_torch_originals(zoo_files, name):
    path, model, x = zoo_files[name]
    got = actlab.audit(path, x)
    want = actlab.audit(model, x)
    assert got.is_affine == want.is_affine == zoo.ZOO[name][2]
    assert got.first_nonlinear == want.first_nonlinear
    assert got.rows[0].type.startswith("ONNX graph") and len(got.rows) > 1
    nonlinear = [r for r in got.rows[1:] if r.affine is False]
    assert bool(nonlinear) == (not want.is_affine)  # the affine twins: no node nonlinear either


def test_collapse_of_an_onnx_file_is_the_product_of_the_weights(tmp_path):
    torch.manual_seed(1)
    lin = nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 3))
    path = export(lin, torch.randn(2, 6), tmp_path / "lin.onnx")
    f = onnx_model.load(path)
    assert f.in_shape == (6,) and f.dtype == torch.float32 and f.fixed_batch is None
    m = actlab.collapse(path)  # in_shape from the graph
    w = (lin[1].weight @ lin[0].weight).double()
    b = (lin[1].weight @ lin[0].bias + lin[1].bias).double()
    assert torch.allclose(m.weight, w, atol=1e-6) and torch.allclose(m.bias, b, atol=1e-6)
    assert m.verified and m.tolerance == actlab.tolerance_for(torch.float32)
    c = actlab.check_affine(path)
    assert c.is_affine and "float32" in c.message


def test_check_affine_of_a_relu_graph_names_it_not_affine(tmp_path):
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    path = export(net, torch.randn(2, 4), tmp_path / "relu.onnx")
    assert not actlab.check_affine(path).is_affine
    with pytest.raises(actlab.NotAffineError):
        actlab.collapse(path)


def test_a_graph_with_a_fixed_batch_is_run_in_slices(tmp_path):
    torch.manual_seed(3)
    lin = nn.Linear(5, 2)
    path = export(lin, torch.randn(2, 5), tmp_path / "fixed.onnx", dynamic=False)
    f = onnx_model.load(path)
    assert f.fixed_batch == 2
    x = torch.randn(7, 5)
    assert torch.allclose(f(x), lin(x), atol=1e-6)  # 7 rows through a graph of batch 2
    m = actlab.collapse(path)
    assert torch.allclose(m.weight, lin.weight.double(), atol=1e-6)


class Cancels(nn.Module):
    """relu(x) − relu(−x) = x: nonlinear nodes, an affine whole."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(3, 3), nn.Linear(3, 2)

    def forward(self, x):
        h = self.a(x)
        return self.b(torch.relu(h) - torch.relu(-h))


def test_nonlinear_nodes_that_cancel_leave_the_graph_affine_with_a_note(tmp_path):
    torch.manual_seed(4)
    x = torch.randn(8, 3)
    path = export(Cancels(), x, tmp_path / "cancels.onnx")
    r = actlab.audit(path, x)
    assert r.is_affine and r.first_nonlinear is None
    assert sum(row.type == "Relu" and row.affine is False for row in r.rows) == 2
    assert "cancels" in r.note
    assert r.map is not None and r.map.verified


def test_bad_files_get_clear_errors(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf at all")
    with pytest.raises(ValueError, match="not a valid ONNX model"):
        onnx_model.load(bad)
    with pytest.raises(ValueError, match="no such ONNX file"):
        actlab.collapse(tmp_path / "missing.onnx")
    assert main(["audit", str(bad)]) == 2
    assert main(["audit", str(tmp_path / "missing.onnx")]) == 2


def test_cli_audit_of_an_onnx_file(zoo_files, capsys):
    path, _, _ = zoo_files["resnet18"]
    assert main(["audit", path, "--batch", "4"]) == 0
    out = capsys.readouterr().out
    assert "first nonlinear = relu" in out and "node_relu" in out and "nodes tested" in out
    assert main(["audit", path, "--batch", "4", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["first_nonlinear"] == "relu" and d["modules"][0]["type"].startswith("ONNX graph")
    assert main(["audit", path, "--input-shape", "3,32,32"]) == 2  # not the graph's shape
    assert main(["fold", path]) == 2  # fold needs the torch model


def test_hf_folder_audits_like_the_model_itself(tmp_path):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64,
                                  vocab_size=50, max_position_embeddings=32)
    torch.manual_seed(5)
    transformers.BertModel(cfg).save_pretrained(tmp_path / "bert")
    from actlab.analysis.load import load_model

    wrapped = load_model(f"hf:{tmp_path / 'bert'}")
    assert wrapped.in_shape == (16, 32) and wrapped.key == "inputs_embeds"
    x = torch.randn(3, 16, 32)
    got = actlab.audit(wrapped, x)
    assert not got.is_affine and got.first_nonlinear == "model.embeddings.LayerNorm"
    assert main(["audit", f"hf:{tmp_path / 'nowhere'}"]) == 2


def test_an_affine_conv_graph_is_collapsed_and_certified_on_its_inputs(tmp_path):
    torch.manual_seed(6)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8 * 7 * 7, 5)).eval()
    x = torch.randn(4, 3, 16, 16)
    r = actlab.audit(export(net, x, tmp_path / "conv.onnx"), x)
    assert r.is_affine and r.first_nonlinear is None
    m = r.map  # forward probing through onnxruntime, float32
    assert m is not None and m.verified and m.precision == "float32"
    want = actlab.collapse(net, (3, 16, 16))  # the torch model's exact map, float64
    assert ((m.weight - want.weight).abs().max() / want.weight.abs().max()).item() < 1e-4


class SmallConv(nn.Module):
    def __init__(self, act: bool):
        super().__init__()
        self.conv, self.pool, self.fc = nn.Conv2d(3, 4, 3), nn.AvgPool2d(2), nn.Linear(4 * 3 * 3, 2)
        self.act = nn.ReLU() if act else nn.Identity()

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.act(self.conv(x))), 1))


@pytest.mark.parametrize("form", ["batch of 1", "batch of 3", "dynamic batch"])
def test_files_as_people_export_them_are_audited_on_any_batch(form, tmp_path, capsys):
    """``torch.onnx.export(model, torch.randn(1, 3, 8, 8), path)`` fixes the batch at 1, the usual
    way; a fixed batch of 3 and a dynamic batch too. The CLI draws --batch inputs and the graph
    runs them in slices of its own batch; the verdicts are the torch models'."""
    paths = {}
    for act in (True, False):
        torch.manual_seed(5)
        model = SmallConv(act).eval()
        path = tmp_path / f"{'relu' if act else 'affine'}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if form == "dynamic batch":
                export(model, torch.randn(2, 3, 8, 8), path)
            else:  # as the tutorials write it: a sample input, nothing else
                torch.onnx.export(model, (torch.randn(1 if form == "batch of 1" else 3, 3, 8, 8),), str(path))
        paths[act] = (str(path), model)
    fixed = onnx_model.load(paths[True][0]).fixed_batch
    assert fixed == {"batch of 1": 1, "batch of 3": 3, "dynamic batch": None}[form]
    capsys.readouterr()  # the exporter's own messages

    assert main(["audit", paths[True][0], "--input-shape", "3,8,8", "--batch", "8", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["is_affine"] is False and d["first_nonlinear"] == "act"
    assert main(["audit", paths[False][0], "--input-shape", "3,8,8", "--batch", "8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["is_affine"] is True

    x = torch.randn(5, 3, 8, 8, generator=torch.Generator().manual_seed(1))  # 5 rows: not a multiple of 3
    r = actlab.audit(paths[True][0], x)
    assert not r.is_affine and r.first_nonlinear == "act"
    assert any(row.type == "Relu" and row.affine is False for row in r.rows)
    r = actlab.audit(paths[False][0], x)
    assert r.is_affine and all(row.affine is not False for row in r.rows)
    path, model = paths[False]
    with torch.no_grad():
        torch.testing.assert_close(r.map(x.double()).float(), model(x), atol=1e-4, rtol=1e-4)
