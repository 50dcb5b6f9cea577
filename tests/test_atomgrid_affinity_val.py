"""The affinity validation set (DEKOIS crystal complexes with PDBbind 2020 affinities), evaluating any typed
cache, and comparing two models' affinity predictions paired over complexes."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from atomgrid import data as agdata
from atomgrid import evaluate as ev
from atomgrid import io, nets
from atomgrid.cli import main
from atomgrid.train import export_model, load_train_config, model_meta

from test_atomgrid_train import tiny_cache

DRUG = io.data_root() / "drug"
needs_data = pytest.mark.skipif(not (DRUG / "dekois2" / "index.csv").exists(), reason="needs ../shared/data/drug")


@needs_data
def test_dekois_affinity_rows_known_entries_and_no_casf_protein():
    rows = {r["target"]: r for r in agdata.dekois_affinity_rows()}
    # golden rows from the PDBbind 2020 general index
    assert rows["A2A"]["pdbid"] == "3eml" and rows["A2A"]["pK"] == pytest.approx(8.74) and rows["A2A"]["measure"] == "Kd=1.8nM"
    assert rows["PNP"]["pdbid"] == "1b8o" and rows["PNP"]["pK"] == pytest.approx(10.64)
    assert rows["GSK3B"]["measure"] == "Ki=7nM"
    # FXA (P00742), HIV1PR, AR, uPA, AURKA, P38-alpha share a UniProt with CASF-2016: never here
    for t in ("FXA", "HIV1PR", "AR", "uPA", "AURKA", "P38-alpha", "PPARG"):  # PPARG: its actives' UniProt
        assert t not in rows
    # entries without a PDBbind affinity (INHA 1p44, EGFR 1m17) are not here either
    assert "INHA" not in rows and "EGFR" not in rows
    assert len(rows) == 44
    casf = set(agdata.read_ids(DRUG / "splits" / "casf2016_test_ids.txt"))
    casf_u = {agdata.uniprot_target(i) for i in casf}
    assert not {r["pdbid"] for r in rows.values()} & casf
    assert not {agdata.uniprot_target(r["pdbid"]) for r in rows.values()} & casf_u
    for r in rows.values():
        assert Path(r["receptor"]).exists() and r["pdbid"] in Path(r["receptor"]).name.lower()


@needs_data
def test_val_affinity_cache_holds_toy_strict_and_dekois_crystal_complexes():
    b = agdata.CacheBuilder(1, 0)
    rows = [r for r in agdata.dekois_affinity_rows() if r["target"] in ("A2A", "GSK3B")]
    agdata.build_dekois_xtal(b, rows)
    cache = b.result()
    good = [e for e in cache["examples"] if e["good"]]
    assert sorted(e["id"] for e in good) == ["3eml", "3i4b"]
    assert {e["source"] for e in good} == {"dekois-xtal"} and {e["target"] for e in good} == {"uniprot:P29274", "uniprot:P49841"}
    assert sorted(e["pK"] for e in good) == pytest.approx([8.15, 8.74])
    assert sum(1 - e["good"] for e in cache["examples"]) == 2  # one perturbed pose each
    # the crystal ligand sits in its pocket: receptor atoms within 4 A of the ligand
    rec = agdata.TypedAtoms.from_dict(cache["receptors"]["3eml"])
    lig = agdata.TypedAtoms.from_dict(good[0]["ligand"] if good[0]["id"] == "3eml" else good[1]["ligand"])
    d = np.linalg.norm(rec.xyz[:, None] - lig.xyz[None], axis=2).min(0)
    assert (d < 4.5).mean() > 0.9


def _model(tmp_path, name, seed):
    torch.manual_seed(seed)
    cfg = load_train_config(None, ["net.preset=\"atomnet-c8-l2\"", "data.grid_size=8", "data.resolution=2.0",
                                   f"name=\"{name}\""])
    return export_model(nets.build(cfg.net_config()), model_meta(cfg), tmp_path / f"{name}.pt")


def test_evaluate_any_cache_writes_per_complex_predictions_and_sources(tmp_path, capsys):
    cache = tiny_cache()
    for e in cache["examples"][:4]:
        e["source"] = e["source"].replace("fixture", "other")  # two sources: c0, c1 'other', c2, c3 'fixture'
    path = tmp_path / "c.pt"
    torch.save(cache, path)
    m = _model(tmp_path, "m", 0)
    out = tmp_path / "e.json"
    assert main(["evaluate", "--model", str(m), "--set", "cache", "--cache", str(path), "--rotations", "2",
                 "--bootstrap", "20", "--no-baseline", "--json", str(out)]) == 0
    res = json.loads(out.read_text())["figures"][0]
    assert [c["id"] for c in res["complexes"]] == ["c0", "c1", "c2", "c3"] and res["rotations"] == 2
    assert all(set(c) == {"id", "source", "pred"} for c in res["complexes"])  # labels stay in the cache
    assert set(res["by_source"]) == {"fixture", "other"} and res["by_source"]["other"]["n"] == 2
    assert res["reference"] == {}  # no CASF reference methods on a cache of other complexes
    # the predictions are the model's affinity head on the crystal poses, as evaluate.score gives them
    model, meta = ev.load_model(m)
    ds = agdata.ComplexSet(cache)
    crystal = [i for i, e in enumerate(ds.examples) if ":" not in e["source"]]
    items = [ds.sample(i) for i in crystal]
    _, aff = ev.score(model, meta, [(s.receptor, s.ligand, s.center) for s in items], rotations=2)
    assert [c["pred"] for c in res["complexes"]] == pytest.approx(aff.tolist(), abs=1e-5)
    assert "other (n=2)" in capsys.readouterr().out


def test_evaluate_set_cache_refuses_a_missing_cache(tmp_path, capsys):
    m = _model(tmp_path, "m", 0)
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--model", str(m), "--set", "cache", "--cache", str(tmp_path / "nope.pt")])
    assert "nope.pt" in str(exc.value) and "does not exist" in str(exc.value)
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--model", str(m), "--set", "cache"])
    assert "CASF test cache" in str(exc.value)


def _fig(ids, p, auc=0.7, model="m", cache="c.pt"):
    return {"model": model, "cache": cache, "pose_auc": {"value": auc},
            "complexes": [{"id": i, "source": "s", "pred": b} for i, b in zip(ids, p)]}


def test_compare_affinity_averages_seeds_per_complex_and_pairs_over_complexes():
    rng = np.random.default_rng(0)
    ids = [f"x{i}" for i in range(40)]
    y = rng.normal(6, 1.5, 40)
    truth = dict(zip(ids, y))
    good1, good2 = y + rng.normal(0, 0.5, 40), y + rng.normal(0, 0.5, 40)
    bad = rng.normal(6, 1.5, 40)
    res = ev.compare_affinity([_fig(ids, good1, 0.8), _fig(ids[::-1], good2[::-1], 0.6)], [_fig(ids, bad, 0.5)],
                              truth, n_boot=200)
    from atomgrid.metrics import pearson
    mean = (good1 + good2) / 2
    assert res["all"]["pearson"]["a"] == pytest.approx(pearson(y, mean))  # per complex, whatever the order
    assert res["all"]["pearson"]["b"] == pytest.approx(pearson(y, bad))
    d = res["all"]["pearson"]
    assert d["diff"] == pytest.approx(d["a"] - d["b"]) and d["low"] > 0 and d["low"] <= d["diff"] <= d["high"]
    assert res["pose_auc"] == {"a": pytest.approx(0.7), "b": pytest.approx(0.5)}
    # the same predictions on both sides: zero difference
    same = ev.compare_affinity([_fig(ids, bad)], [_fig(ids, bad)], truth, n_boot=50)
    assert same["all"]["pearson"]["diff"] == 0 and same["all"]["pearson"]["low"] == 0 == same["all"]["pearson"]["high"]
    with pytest.raises(ValueError, match="different complexes"):
        ev.compare_affinity([_fig(ids, bad)], [_fig(ids[:-1], bad[:-1])], truth, n_boot=10)
    with pytest.raises(ValueError, match="no measured pK"):
        ev.compare_affinity([_fig(ids, bad)], [_fig(ids, bad)], dict(list(truth.items())[1:]), n_boot=10)


def test_cli_compare_takes_evaluate_results_and_refuses_mixing_with_crossval(tmp_path, capsys):
    cache = tiny_cache()  # crystal poses c0..c3 with pK 8.5, 4.0, 7.0, 5.0
    cpath = tmp_path / "c.pt"
    torch.save(cache, cpath)
    ids, y = ["c0", "c1", "c2", "c3"], [8.5, 4.0, 7.0, 5.0]
    files = []
    for k, p in enumerate([y, [-v for v in y]]):
        f = tmp_path / f"e{k}.json"
        f.write_text(json.dumps({"benchmark": "atomgrid_evaluate", "figures": [_fig(ids, p, cache=str(cpath))]}))
        files.append(str(f))
    out = tmp_path / "cmp.json"
    assert main(["compare", files[0], files[1], "--bootstrap", "20", "--json", str(out)]) == 0
    res = json.loads(out.read_text())["figures"]
    assert res["all"]["pearson"]["a"] == pytest.approx(1.0) and res["all"]["pearson"]["b"] == pytest.approx(-1.0)
    assert "8.5" not in out.read_text()  # no measured pK in the result file
    # a set without decoy poses has no pose AUC: its evaluate files write null (older ones NaN), and the comparison
    # reads both and writes null again, as standard JSON
    for k, auc in ((0, None), (1, float("nan"))):
        d = json.loads(Path(files[k]).read_text())
        d["figures"][0]["pose_auc"]["value"] = auc
        Path(files[k]).write_text(json.dumps(d))
    assert main(["compare", files[0], files[1], "--bootstrap", "20", "--json", str(out)]) == 0
    text = out.read_text()
    assert "NaN" not in text and json.loads(text)["figures"]["pose_auc"] == {"a": None, "b": None}
    with pytest.raises(SystemExit, match="not here"):
        main(["compare", files[0], files[1], "--cache", str(tmp_path / "gone.pt")])
    cv = tmp_path / "cv.json"
    cv.write_text(json.dumps({"benchmark": "atomgrid_crossval", "figures": {"targets": []}}))
    with pytest.raises(SystemExit, match="not both"):
        main(["compare", files[0], str(cv)])


def test_pk_of_tags_prefers_ki_and_leaves_out_bounds():
    from atomgrid.crossval import _pk_of_tags
    assert _pk_of_tags({"IC50_in_nM": " 18", "Ki_in_nM": "1"}) == pytest.approx(9.0)
    assert _pk_of_tags({"IC50_in_nM": " 18"}) == pytest.approx(9 - np.log10(18))
    assert _pk_of_tags({"Kd_in_nM": "1000", "IC50_in_nM": "1"}) == pytest.approx(6.0)
    assert _pk_of_tags({"Ki_in_nM": "<10"}) is None and _pk_of_tags({"Ki_in_nM": "0"}) is None
    assert _pk_of_tags({"Name": "x"}) is None


@needs_data
def test_dekois_active_pk_golden_values():
    from atomgrid.crossval import dekois_active_pk
    a2a = dekois_active_pk("A2A")
    assert len(a2a) == 40
    assert a2a["BDB50117217"] == pytest.approx(9 - np.log10(18))  # IC50 18 nM (no Ki on that record)
    assert dekois_active_pk("EPHB4") == {}  # its actives carry no measurement
    assert dekois_active_pk("not-a-target") == {}
    assert agdata.dekois_uniprots("FXA") == {"uniprot:P00742"}


def _screen_example(target, name, good, source="dekois:template"):
    lig = agdata.TypedAtoms(np.zeros((1, 3), np.float32), np.zeros((1, 4), np.float32), np.ones(1, np.float32))
    return agdata._example(f"{target}:{name}", target, source, f"crossval:{target}", lig, float("nan"), good, float("nan"))


@needs_data
def test_with_active_affinities_labels_actives_only_and_never_casf_proteins():
    from atomgrid.crossval import with_active_affinities
    ex = [_screen_example("A2A", "A0000_BDB50117217", 1), _screen_example("A2A", "D0000_ZINC1", 0),
          _screen_example("A2A", "A0099_NOT_IN_FILE", 1), _screen_example("FXA", "A0000_x", 1),
          _screen_example("dude:fak1", "A0000_y", 1, source="dude:template")]
    cache = {"version": agdata.CACHE_VERSION, "receptors": {}, "examples": ex, "errors": []}
    out, info = with_active_affinities(cache)
    pk = [e["pK"] for e in out["examples"]]
    assert pk[0] == pytest.approx(9 - np.log10(18))
    assert all(np.isnan(pk[1:]))  # decoy, unknown name, CASF protein (FXA), DUD-E
    assert info == {"labelled": 1, "targets": 1, "casf_protein_targets": ["FXA"]}
    assert np.isnan(cache["examples"][0]["pK"])  # the input cache is left as it was


def test_evaluate_an_actives_only_cache_has_no_pose_auc_but_within_target_spearman(tmp_path, capsys):
    cache = tiny_cache()
    cache["examples"] = [dict(e, target="T", source="dekois-active") for e in cache["examples"] if e["good"]]
    cache["examples"].append(dict(cache["examples"][0], id="c9", pK=6.0))
    path = tmp_path / "a.pt"
    torch.save(cache, path)
    res = ev.evaluate_casf(_model(tmp_path, "m", 1), path, n_boot=10)
    assert np.isnan(res["pose_auc"]["value"]) and res["n"] == 5
    assert res["within_target_spearman"]["targets"] == 1
    assert -1 <= res["within_target_spearman"]["mean"] <= 1
    text = ev.format_casf(res)
    assert "pose AUC" not in text and "within-target Spearman" in text and "top-1 pose" not in text


def test_evaluate_reports_the_heavy_atom_baseline(tmp_path):
    cache = tiny_cache()
    path = tmp_path / "c.pt"
    torch.save(cache, path)
    res = ev.evaluate_casf(_model(tmp_path, "m", 0), path, n_boot=10)
    from atomgrid.metrics import pearson
    crystal = [e for e in cache["examples"] if ":" not in e["source"]]
    n = [len(e["ligand"]["xyz"]) for e in crystal]
    assert res["baselines"]["heavy_atoms"]["pearson"]["value"] == pytest.approx(pearson([e["pK"] for e in crystal], n))


def test_vina_blend_is_the_net_where_vina_has_no_score():
    p = np.asarray([5.0, 6.0, 7.0])
    v = np.asarray([9.0, np.nan, 3.0]) * -ev.VINA_KCAL_PER_PK  # Vina's energies of pK 9, none, 3
    assert ev.vina_blend(p, v, 0.25).tolist() == pytest.approx([6.0, 6.0, 6.0])
    assert ev.vina_blend(p, v, 1.0).tolist() == pytest.approx([9.0, 6.0, 3.0])


def test_cache_records_input_files_relative_to_the_pack_and_refuses_old_caches(tmp_path):
    d = Path(__file__).parent / "data" / "atomgrid_score"
    b = agdata.CacheBuilder(0, 0)
    b.add_pdbbind("x1", "t", "fixture", d / "pocket.pdb", d / "crystal_ligand.sdf", 7.0)
    cache = b.result()
    assert agdata.complex_files(cache, "x1") == ((d / "pocket.pdb").resolve(), (d / "crystal_ligand.sdf").resolve(), 0)
    with pytest.raises(ValueError, match="no input files recorded"):
        agdata.complex_files(cache, "x2")
    old = {k: v for k, v in cache.items() if k != "files"}
    with pytest.raises(ValueError, match="rebuild it with atomgrid prepare"):
        agdata.complex_files(old, "x1")
    merged = agdata.merge_caches(cache, {"receptors": {}, "examples": [], "errors": []})
    assert merged["files"] == cache["files"]


@pytest.mark.external
def test_evaluate_vina_prior_scores_each_crystal_pose_once_and_blends(tmp_path, monkeypatch):
    pytest.importorskip("vina")
    pytest.importorskip("meeko")
    d = Path(__file__).parent / "data" / "atomgrid_score"
    b = agdata.CacheBuilder(1, 0)
    for i, pk in enumerate((5.0, 6.5, 8.0)):  # the same complex thrice, three labels
        b.add_pdbbind(f"x{i}", f"t{i}", "fixture", d / "pocket.pdb", d / "crystal_ligand.sdf", pk)
    path = tmp_path / "c.pt"
    torch.save(b.result(), path)
    m = _model(tmp_path, "m", 0)
    out = tmp_path / "e.json"
    assert main(["evaluate", "--model", str(m), "--set", "cache", "--cache", str(path), "--bootstrap", "20",
                 "--no-baseline", "--vina-prior", "0.5,1", "--json", str(out)]) == 0
    res = json.loads(out.read_text())["figures"][0]
    v = [c["vina_pK"] for c in res["complexes"]]
    assert v[0] == pytest.approx(v[1]) == pytest.approx(v[2]) and 3.0 / 1.364 < v[0] < 20.0 / 1.364  # it binds
    assert res["vina_score_only"]["n"] == 3 and res["vina_score_only"]["failed"] == 0
    assert set(res["vina_prior"]) == {"0.5", "1"}
    g = res["vina_prior"]["0.5"]["gain_vs_net"]["rmse"]
    y = np.asarray([5.0, 6.5, 8.0])
    p = np.asarray([c["pred"] for c in res["complexes"]])
    blend = 0.5 * p + 0.5 * np.asarray(v)
    assert g["a"] == pytest.approx(float(np.sqrt(np.mean((blend - y) ** 2))), abs=1e-6)
    assert g["b"] == pytest.approx(float(np.sqrt(np.mean((p - y) ** 2))), abs=1e-6)
    # the energies are kept beside the cache and reused
    assert (tmp_path / "c.pt.vina.csv").exists()
    import atomgrid.vinascore as vsm
    monkeypatch.setattr(vsm, "vina_scores", lambda *a: (_ for _ in ()).throw(AssertionError("recomputed")))
    cache = agdata.load_cache(path)
    again = ev.crystal_vina(cache, path, ["x0", "x1", "x2"], progress=False)
    assert -again[0] / ev.VINA_KCAL_PER_PK == pytest.approx(v[0])


def test_evaluate_vina_prior_refuses_bad_weights_and_screening_sets():
    for spec, why in (("0.5,x", "'x' is not a number"), ("0", "must be in (0, 1], got 0"), ("1.5", "got 1.5")):
        with pytest.raises(SystemExit, match=re.escape(why)):
            main(["evaluate", "--model", "m.pt", "--set", "casf2016", "--vina-prior", spec])
    with pytest.raises(SystemExit, match="needs --set casf2016 or cache"):
        main(["evaluate", "--model", "m.pt", "--set", "dude:fabp4", "--vina-prior", "0.5"])


@needs_data
def test_heavy_graph_key_is_the_same_compound_across_sdf_mol2_and_pdbqt():
    sdf = next(io.read_ligands(DRUG / "casf2016/coreset/1a30/1a30_ligand.sdf", sanitize=False))
    mol2 = next(io.read_ligands(DRUG / "casf2016/coreset/1a30/1a30_ligand.mol2", sanitize=False))
    pdbqt = next(io.read_ligands(DRUG / "pdbbind_core2013/complexes/1a30/ligand.pdbqt", sanitize=False))
    other = next(io.read_ligands(DRUG / "casf2016/coreset/1bcu/1bcu_ligand.sdf", sanitize=False))
    k = agdata.heavy_graph_key(sdf)
    assert agdata.heavy_graph_key(mol2) == k == agdata.heavy_graph_key(pdbqt)
    assert agdata.heavy_graph_key(other) != k
    assert "H" not in k.replace("Hg", "")  # hydrogens dropped


@needs_data
def test_recommended_split_keeps_casf_proteins_series_but_never_a_casf_test_complex():
    keys = agdata.casf_test_ligand_keys()
    assert len(keys) == 130 and len(set(keys.values())) == 130
    cache = agdata.build_cache("train-recommended")
    ids = {e["id"] for e in cache["examples"]}
    casf = set(agdata.read_ids(DRUG / "splits" / "casf2016_test_ids.txt"))
    strict_toy = set(agdata.read_ids(DRUG / "splits" / "toy_train_ids_strict.txt"))
    assert not ids & casf and not ids & strict_toy  # the strict toy complexes are validation (val-affinity)
    assert set(agdata.read_ids(DRUG / "splits" / "core2013_train_ids.txt")) <= ids
    # CASF proteins' FEP series are in (the strict split drops them) ...
    assert any(i.startswith("bace#") for i in ids) and any(i.startswith("thrombin_core#") for i in ids)
    # ... except the records that are CASF test ligands themselves (golden: found by heavy-atom graph)
    assert sorted(cache["left_out"]) == [
        "schrodinger/charge_annhil/ptp1b_ligands.sdf record 3: the CASF-2016 test ligand 2qbp",
        "schrodinger/jacs_set/bace_ligands.sdf record 30: the CASF-2016 test ligand 4djv",
        "schrodinger/jacs_set/ptp1b_ligands.sdf record 10: the CASF-2016 test ligand 2qbr",
        "schrodinger/jacs_set/ptp1b_ligands.sdf record 3: the CASF-2016 test ligand 2qbp",
        "schrodinger/jacs_set/ptp1b_ligands.sdf record 7: the CASF-2016 test ligand 2qbr",
        "schrodinger/waterset/urokinase_ligands.sdf record 3: the CASF-2016 test ligand 1o3f"]
    assert "bace#30" not in ids and "urokinase#3" not in ids
    strict = agdata.build_cache("train")
    assert not strict["left_out"] and {e["id"] for e in strict["examples"]} < ids


@needs_data
def test_strict_fep_systems_hold_no_casf_protein_even_when_named_by_pdb_entry():
    names = {f"{r['group']}/{r['target']}" for r in agdata.fep_systems()}
    # the macrocycle systems are named by PDB entry: 2B8V and 2Q15 are BACE1, 3RKZ HSP90, 2E9P CHK1 (CASF clusters)
    for s in ("2B8V_lig24and25_alpha05", "2Q15_lig17to21_alpha05", "3RKZ_lig62to70_alpha05", "2E9P_lig4to7_alpha05"):
        assert f"macrocycles/{s}" not in names
        assert f"macrocycles/{s}" in {f"{r['group']}/{r['target']}" for r in agdata.fep_systems(exclude_casf=False)}
    assert "macrocycles/MHT1_lig3_alpha05" in names and "merck/eg5_extraprotomers" in names and len(names) == 36
    assert agdata.fep_proteins()[("macrocycles", "3RKZ_lig62to70_alpha05")] == "HSP90"
