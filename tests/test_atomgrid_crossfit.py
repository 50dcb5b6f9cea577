"""Rule L's cross-fitted evaluation (campaigns/atomgrid-affinity/crossfit.py): every complex is scored by a model
that never learnt a target of its family, and a complex no model may score is an error."""
import importlib.util
from pathlib import Path

import pytest

from atomgrid import families as fam

_spec = importlib.util.spec_from_file_location(
    "crossfit", Path(__file__).resolve().parents[1] / "campaigns" / "atomgrid-affinity" / "crossfit.py")
crossfit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(crossfit)


def _eval(model, preds):
    return {"model": model, "cache": "c.pt", "rotations": 16, "pose_auc": {"value": 0.9},
            "complexes": [{"id": i, "source": "toy", "pred": p} for i, p in preds.items()]}


def test_each_complex_goes_to_the_first_model_that_never_saw_its_family():
    a, b = "EGFR", "PDE5"  # two targets of different families
    assert fam.group_of(a) != fam.group_of(b)
    cache = {"examples": [{"id": "x1", "source": "toy", "target": "p:egfr", "pK": 5.0},
                          {"id": "x2", "source": "toy", "target": "p:pde", "pK": 7.0},
                          {"id": "x3", "source": "toy", "target": "p:other", "pK": 6.0},
                          {"id": "x1:bad", "source": "toy:decoy", "target": "p:egfr", "pK": 5.0}]}
    fams = {"p:egfr": {fam.group_of(a)}, "p:pde": {fam.group_of(b)}, "p:other": set()}
    ea = _eval("A", {"x1": 1.0, "x2": 2.0, "x3": 3.0})  # learnt EGFR's actives
    eb = _eval("B", {"x1": 10.0, "x2": 20.0, "x3": 30.0})  # learnt PDE5's actives
    fig = crossfit.splice([ea, eb], [[a], [b]], cache, fams=fams)
    got = {r["id"]: (r["model"], r["pred"]) for r in fig["complexes"]}
    assert got == {"x1": ("B", 10.0), "x2": ("A", 2.0), "x3": ("A", 3.0)}
    assert [m["complexes"] for m in fig["models"]] == [2, 1]
    assert fig["n"] == 3 and fig["pose_auc"]["value"] == 0.9
    # a complex whose family both models learnt has no honest score
    with pytest.raises(ValueError, match="x1"):
        crossfit.splice([ea, eb], [[a], [a, b]], cache, fams=fams)
    # evaluations of different complexes are refused
    with pytest.raises(ValueError, match="different complexes"):
        crossfit.splice([ea, _eval("B", {"x1": 1.0, "x2": 2.0})], [[a], [b]], cache, fams=fams)
