"""Targets of the cross-target protocol, their protein families, and the fold split (a pure function).

``FAMILIES`` maps every DEKOIS 2.0 target and every DUD-E target with a receptor here to
(family, superfamily). The rule, decided by hand from the target names, the PDB entries of the
DEKOIS receptors and what is known of the proteins:

- one family = the same protein (DEKOIS INHA and DUD-E inha, MK2 and mapk2, GBA and glcm; PYGL-in
  and PYGL-out are one protein with two sites), close homologs (JNK1/2/3, PIM-1/2, VEGFR1/2,
  EGFR/ERBB2, COX1/2, HDAC2/8, PDE4B/5, PPARA/G, ...), or proteins whose ligands are the same chemical
  series (DHFR and TS share antifolates; TK and TP both bind thymidine analogues);
- protein kinases by Manning group (AGC, CAMK, CMGC, TK, TKL, Other/Aurora); their superfamily is
  ``protein_kinase`` (ATP-site inhibitors cross the groups; ``--group-by superfamily`` keeps all
  kinases on one side, the stricter split); PI3Kg is a lipid kinase (own family and superfamily);
- nuclear receptors are one family (steroid receptors, PPARs and RXR: one fold, one ligand pocket type);
- proteases by catalytic class and fold: trypsin-like serine (FXA, TPA, uPA), papain-like cysteine
  (CATL, CTSK), metzincins (ADAM17, MMP2), ACE/ACE2 (gluzincin M2), HIV-1 protease, SARS 3CL protease;
- everything else is its own family.

Targets that could not be placed with confidence (each is its own family; say so if you move one):
SIRT2 (sirtuin; DEKOIS ships no crystal ligand, so template poses are impossible and it is left out of
evaluation: :data:`NO_TEMPLATE`), QPCT (glutaminyl cyclase, a zinc enzyme, not a protease here),
KIF11 (kinesin motor, allosteric site), FKBP1A, BCL2 and MDM2 (protein-protein interfaces: different
folds, kept apart), ALR2 (aldo-keto reductase, kept apart from the SDR HSDs), NA (neuraminidase),
CYP2A6, PNP (a nucleoside phosphorylase, apart from TP, which is a different fold).

The split (:func:`make_folds`): the families of :data:`TEST_TARGETS` (DUD-E fabp4, inha; with them
DEKOIS INHA) form the final test and appear in no training, validation or cross-validation fold; one
fixed validation group (:data:`VALIDATION_FAMILY`) is the validation set of every fold and of the
final model, and is never trained on or tested in a fold; the remaining groups are dealt into ``k``
folds, largest group first, each to the fold with the fewest targets (ties: lowest fold number),
names sorted for determinism. No randomness: the same table gives the same folds.
"""
from __future__ import annotations

from dataclasses import dataclass

# target -> (family, superfamily). DEKOIS names as in dekois2/index.csv; DUD-E targets as "dude:<name>".
FAMILIES: dict[str, tuple[str, str]] = {
    # short-chain dehydrogenases/reductases
    "11betaHSD1": ("sdr_hsd", "sdr_hsd"), "17betaHSD1": ("sdr_hsd", "sdr_hsd"),
    "ALR2": ("aldo_keto_reductase", "aldo_keto_reductase"),
    # GPCRs (class A)
    "A2A": ("gpcr_a", "gpcr_a"), "ADRB2": ("gpcr_a", "gpcr_a"),
    # proteases
    "ACE": ("m2_ace", "metalloprotease"), "ACE2": ("m2_ace", "metalloprotease"),
    "ADAM17": ("metzincin", "metalloprotease"), "MMP2": ("metzincin", "metalloprotease"),
    "FXA": ("serine_protease_s1", "serine_protease_s1"), "TPA": ("serine_protease_s1", "serine_protease_s1"),
    "uPA": ("serine_protease_s1", "serine_protease_s1"),
    "CATL": ("cysteine_protease_c1", "cysteine_protease_c1"), "CTSK": ("cysteine_protease_c1", "cysteine_protease_c1"),
    "HIV1PR": ("aspartic_protease", "aspartic_protease"),
    "SARS-HCoV": ("cov_3cl_protease", "cov_3cl_protease"),
    # protein kinases by Manning group
    "AKT1": ("kinase_agc", "protein_kinase"), "PDK1": ("kinase_agc", "protein_kinase"),
    "PRKCQ": ("kinase_agc", "protein_kinase"), "ROCK-1": ("kinase_agc", "protein_kinase"),
    "MK2": ("kinase_camk", "protein_kinase"), "dude:mapk2": ("kinase_camk", "protein_kinase"),
    "PIM-1": ("kinase_camk", "protein_kinase"), "PIM-2": ("kinase_camk", "protein_kinase"),
    "CDK2": ("kinase_cmgc", "protein_kinase"), "GSK3B": ("kinase_cmgc", "protein_kinase"),
    "JNK1": ("kinase_cmgc", "protein_kinase"), "JNK2": ("kinase_cmgc", "protein_kinase"),
    "JNK3": ("kinase_cmgc", "protein_kinase"), "P38-alpha": ("kinase_cmgc", "protein_kinase"),
    "EGFR": ("kinase_tk", "protein_kinase"), "ERBB2": ("kinase_tk", "protein_kinase"),
    "EPHB4": ("kinase_tk", "protein_kinase"), "FGFR1": ("kinase_tk", "protein_kinase"),
    "IGF1R": ("kinase_tk", "protein_kinase"), "ITK": ("kinase_tk", "protein_kinase"),
    "JAK3": ("kinase_tk", "protein_kinase"), "LCK": ("kinase_tk", "protein_kinase"),
    "SRC": ("kinase_tk", "protein_kinase"), "TIE2": ("kinase_tk", "protein_kinase"),
    "VEGFR1": ("kinase_tk", "protein_kinase"), "VEGFR2": ("kinase_tk", "protein_kinase"),
    "dude:fak1": ("kinase_tk", "protein_kinase"),
    "BRAF": ("kinase_tkl", "protein_kinase"),
    "AURKA": ("kinase_aurora", "protein_kinase"), "AURKB": ("kinase_aurora", "protein_kinase"),
    "PI3Kg": ("lipid_kinase", "lipid_kinase"),
    # nuclear receptors
    "AR": ("nuclear_receptor", "nuclear_receptor"), "ER-beta": ("nuclear_receptor", "nuclear_receptor"),
    "GR": ("nuclear_receptor", "nuclear_receptor"), "PR": ("nuclear_receptor", "nuclear_receptor"),
    "PPARA": ("nuclear_receptor", "nuclear_receptor"), "PPARG": ("nuclear_receptor", "nuclear_receptor"),
    "RXR": ("nuclear_receptor", "nuclear_receptor"),
    # other enzymes
    "COX1": ("cyclooxygenase", "cyclooxygenase"), "COX2": ("cyclooxygenase", "cyclooxygenase"),
    "CYP2A6": ("cytochrome_p450", "cytochrome_p450"),
    "DHFR": ("antifolate_targets", "antifolate_targets"), "TS": ("antifolate_targets", "antifolate_targets"),
    "GBA": ("glucocerebrosidase", "glycosidase"), "dude:glcm": ("glucocerebrosidase", "glycosidase"),
    "NA": ("neuraminidase", "glycosidase"),
    "HDAC2": ("hdac", "deacetylase"), "HDAC8": ("hdac", "deacetylase"), "SIRT2": ("sirtuin", "deacetylase"),
    "HIV1RT": ("hiv_rt", "hiv_rt"),
    "INHA": ("enoyl_acp_reductase", "enoyl_acp_reductase"), "dude:inha": ("enoyl_acp_reductase", "enoyl_acp_reductase"),
    "PDE4B": ("phosphodiesterase", "phosphodiesterase"), "PDE5": ("phosphodiesterase", "phosphodiesterase"),
    "PNP": ("purine_nucleoside_phosphorylase", "nucleoside_metabolism"),
    "TK": ("thymidine_binding", "nucleoside_metabolism"), "TP": ("thymidine_binding", "nucleoside_metabolism"),
    "PYGL-in": ("glycogen_phosphorylase", "glycogen_phosphorylase"),
    "PYGL-out": ("glycogen_phosphorylase", "glycogen_phosphorylase"),
    "QPCT": ("glutaminyl_cyclase", "glutaminyl_cyclase"),
    "dude:nos1": ("nitric_oxide_synthase", "nitric_oxide_synthase"),
    # binding proteins and others
    "BCL2": ("bcl2", "bcl2"), "MDM2": ("mdm2", "mdm2"), "FKBP1A": ("fkbp", "fkbp"), "KIF11": ("kinesin", "kinesin"),
    "dude:fabp4": ("fabp", "fabp"),
}

TEST_TARGETS = ("dude:fabp4", "dude:inha")  # final test only: never in a training, validation or CV fold
VALIDATION_FAMILY = "phosphodiesterase"  # primary validation family (PDE4B, PDE5): never trained or tested on
# drawn by draw_extra_validation() on 2026-12-04 (a test recomputes the draw): with the primary family, the
# validation group of every choice; no CV fold tests them and the final fold never trains on them
EXTRA_VALIDATION_FAMILIES = ("cyclooxygenase", "cysteine_protease_c1", "kinase_camk", "metzincin")
NO_TEMPLATE = ("SIRT2",)  # no crystal ligand in the data pack: no template poses, not evaluated
DUDE_WITH_RECEPTOR = ("dude:fabp4", "dude:inha", "dude:fak1", "dude:glcm", "dude:mapk2", "dude:nos1")
LEVELS = ("family", "superfamily")


@dataclass(frozen=True)
class Fold:
    """One split: ``test`` targets held out, ``train`` targets to learn from, ``validation`` (fixed)."""

    name: str
    test: tuple[str, ...]
    train: tuple[str, ...]
    validation: tuple[str, ...]


def group_of(target: str, level: str = "family") -> str:
    if level not in LEVELS:
        raise ValueError(f"group level {level!r}: expected one of {', '.join(LEVELS)}")
    if target not in FAMILIES:
        raise ValueError(f"target {target!r} has no family in atomgrid.families.FAMILIES")
    return FAMILIES[target][LEVELS.index(level)]


def groups(targets, level: str = "family") -> dict[str, tuple[str, ...]]:
    """{group: sorted targets} of ``targets``."""
    out: dict[str, list[str]] = {}
    for t in sorted(targets):
        out.setdefault(group_of(t, level), []).append(t)
    return {g: tuple(v) for g, v in sorted(out.items())}


def small_families() -> tuple[str, ...]:
    """The families (sorted) with 2-4 evaluable targets (a template-able DEKOIS target or a DUD-E test target)
    outside the test and the primary validation families: the pool of the validation groups."""
    usable = [t for t in FAMILIES if t not in NO_TEMPLATE and (not t.startswith("dude:") or t in TEST_TARGETS)]
    by_family = groups(usable)
    test = {group_of(t) for t in TEST_TARGETS}
    return tuple(sorted(f for f, v in by_family.items() if 2 <= len(v) <= 4 and f not in test and f != VALIDATION_FAMILY))


def draw_extra_validation(n: int = 4, seed: int = 17) -> tuple[str, ...]:
    """The seeded draw behind :data:`EXTRA_VALIDATION_FAMILIES`: ``n`` families (sorted) of :func:`small_families`."""
    import numpy as np
    return tuple(sorted(np.random.default_rng(seed).choice(list(small_families()), n, replace=False).tolist()))


# The validation groups a recipe can be judged on (``--validation-group``): the extra families beside the primary
# PDE family. "v11" (11 evaluable targets, the default): the four drawn families. "v34" (34 evaluable targets,
# 2026-12-04, session 17): every family of :func:`small_families` - no draw - because 11 targets cannot show a
# +0.02 recipe effect whose per-target spread is 0.07 (campaigns/atomgrid-val34). A wider group only takes
# families out of the CV tests and the final fold's training data; the CV folds train on what they did before.
VALIDATION_GROUPS: dict[str, tuple[str, ...]] = {"v11": EXTRA_VALIDATION_FAMILIES, "v34": small_families()}


def extra_validation_of(group: str) -> tuple[str, ...]:
    """The extra validation families of the named validation group (:data:`VALIDATION_GROUPS`)."""
    if group not in VALIDATION_GROUPS:
        raise ValueError(f"validation group {group!r}: expected one of {', '.join(VALIDATION_GROUPS)}")
    return VALIDATION_GROUPS[group]


def make_folds(targets=None, k: int = 5, level: str = "family", validation_family: str = VALIDATION_FAMILY,
               extra_validation: tuple[str, ...] = EXTRA_VALIDATION_FAMILIES) -> tuple[list[Fold], Fold]:
    """(``k`` cross-validation folds, the final fold) over ``targets`` (default: all of :data:`FAMILIES`).

    Every group (at ``level``) lies on one side of every fold. The test families (those of
    :data:`TEST_TARGETS`) are only the final fold's test; the primary validation group (the ``level``
    group of ``validation_family``'s targets) is never trained or tested on. The other groups are
    dealt into folds; those holding an ``extra_validation`` family's target then join the validation
    group: no fold tests them, CV folds keep them as training data, the final fold does not train on
    them. The final fold trains on every other group and tests on the test families."""
    unknown = set(extra_validation) - {fam for fam, _ in FAMILIES.values()}
    if unknown:
        raise ValueError(f"extra validation families {sorted(unknown)} are not in the family table")
    targets = sorted(FAMILIES if targets is None else set(targets))
    by_group = groups(targets, level)
    test_groups = {group_of(t, level) for t in TEST_TARGETS if t in FAMILIES}
    val_members = [t for t, (fam, _) in FAMILIES.items() if fam == validation_family]
    if not val_members:
        raise ValueError(f"validation family {validation_family!r} is not in the family table")
    val_groups = {group_of(t, level) for t in val_members} - test_groups
    if not val_groups:
        raise ValueError(f"validation family {validation_family!r} falls in a test group at level {level!r}")
    primary = [t for g in sorted(val_groups) for t in by_group.get(g, ())]
    test_final = tuple(t for g in sorted(test_groups) for t in by_group.get(g, ()))
    pool = {g: v for g, v in by_group.items() if g not in test_groups and g not in val_groups}
    if k < 2 or k > len(pool):
        raise ValueError(f"k={k} folds: need 2 <= k <= {len(pool)} (groups outside test and validation)")
    bins: list[list[str]] = [[] for _ in range(k)]
    for g in sorted(pool, key=lambda g: (-len(pool[g]), g)):
        i = min(range(k), key=lambda j: (sum(len(pool[x]) for x in bins[j]), j))
        bins[i].append(g)
    extra_groups = {group_of(t, level) for t, (fam, _) in FAMILIES.items() if fam in extra_validation} & set(pool)
    extra = {t for g in extra_groups for t in pool[g]}
    validation = tuple(sorted(primary)) + tuple(sorted(extra))
    folds = []
    for i, b in enumerate(bins):
        test = tuple(sorted(t for g in b for t in pool[g] if t not in extra))
        train = tuple(sorted(t for g, v in pool.items() if g not in b for t in v))
        folds.append(Fold(f"fold{i}", test, train, validation))
    final = Fold("final", test_final, tuple(sorted(t for v in pool.values() for t in v if t not in extra)), validation)
    return folds, final


def folds_of(validation_group: str = "v11", k: int = 5, level: str = "family") -> tuple[list[Fold], Fold]:
    """:func:`make_folds` with the extra validation families of the named validation group: the folds every
    command (train, crossval, screen-data) uses for ``--validation-group``."""
    return make_folds(k=k, level=level, extra_validation=extra_validation_of(validation_group))


def trainable_targets(k: int = 5, level: str = "family", validation_group: str = "v11") -> tuple[str, ...]:
    """Every target some fold trains on (the CV folds' and the final fold's training targets): what
    ``atomgrid screen-data --crossval`` poses into the training cache (the same for every validation group:
    the CV folds train on the extra validation families)."""
    folds, final = folds_of(validation_group, k=k, level=level)
    return tuple(sorted({t for f in folds + [final] for t in f.train}))


# The pose/affinity training data (atomgrid prepare --kind train / train-recommended: PDBbind core-2013 and toy
# complexes keyed by UniProt, FEP series keyed "fep:<group>/<system>") placed in the screening families above, so
# that a cross-target fold never learns affinities or poses of a protein it tests or validates on (decided by hand
# from the PDBbind 2020 protein names and the FEP sets' reference PDB entries; the same rule as FAMILIES). Proteins
# in no screening family have their own family; those of a screening superfamily say so (a superfamily-level fold
# holds them out). Every key of the training caches must be listed in one of the two tables (a test checks), so
# new affinity data cannot enter a fold unreviewed.
AFFINITY_FAMILIES: dict[str, tuple[str, str]] = {
    # core-2013 / toy complexes (UniProt)
    "uniprot:O14965": FAMILIES["AURKA"],  # Aurora kinase A
    "uniprot:P00734": FAMILIES["FXA"],  # thrombin (trypsin-like S1)
    "uniprot:P03366": FAMILIES["HIV1RT"],  # HIV-1 reverse transcriptase
    "uniprot:P03472": FAMILIES["NA"],  # influenza neuraminidase
    "uniprot:P04587": FAMILIES["HIV1PR"], "uniprot:Q90K99": FAMILIES["HIV1PR"],  # HIV-1 protease
    "uniprot:P56817": FAMILIES["HIV1PR"],  # BACE1 (pepsin-like aspartic protease: kept with HIV-1 protease)
    "uniprot:P08254": FAMILIES["MMP2"], "uniprot:P39900": FAMILIES["MMP2"],  # MMP-3, MMP-12 (metzincins)
    "uniprot:P12821": FAMILIES["ACE"], "uniprot:Q10714": FAMILIES["ACE"],  # ACE, Drosophila ACE
    "uniprot:P68400": FAMILIES["CDK2"], "uniprot:Q5U5J2": FAMILIES["CDK2"],  # CK2 alpha (CMGC)
    "uniprot:Q16539": FAMILIES["P38-alpha"],  # p38 alpha
    "uniprot:P26663": ("hcv_ns3_protease", "serine_protease_s1"), "uniprot:A8DG50": ("hcv_ns3_protease", "serine_protease_s1"),
    "uniprot:P00800": ("thermolysin", "metalloprotease"), "uniprot:Q01693": ("leucyl_aminopeptidase", "metalloprotease"),
    "uniprot:P00722": ("beta_galactosidase", "glycosidase"), "uniprot:B8LFD6": ("beta_galactosidase", "glycosidase"),
    "uniprot:O43451": ("maltase_glucoamylase", "glycosidase"), "uniprot:P04746": ("alpha_amylase", "glycosidase"),
    "uniprot:O85465": ("endoglucanase", "glycosidase"), "uniprot:P06565": ("endoglucanase", "glycosidase"),
    "uniprot:Q8AAK6": ("beta_mannosidase", "glycosidase"), "uniprot:Q9WYE2": ("alpha_fucosidase", "glycosidase"),
    "uniprot:Q0TR53": ("o_glcnacase", "glycosidase"), "uniprot:Q8XL08": ("o_glcnacase", "glycosidase"),
    # FEP series (Schrödinger's benchmark; protein from its subset_metadata reference PDB)
    **{f"fep:{k}": FAMILIES["EGFR"] for k in (  # tyrosine kinases
        "charge_annhil/egfr", "charge_annhil/itk", "charge_annhil/jak1", "charge_annhil/tyk2", "jacs_set/tyk2",
        "fragments/jak2_set1", "fragments/jak2_set2_extra", "merck/syk_4puz_fullmap", "misc/btk_extra_flip",
        "merck/cmet")},
    **{f"fep:{k}": FAMILIES["CDK2"] for k in (  # CMGC kinases
        "charge_annhil/jnk1", "jacs_set/jnk1_manual_flips", "charge_annhil/cdk2", "jacs_set/cdk2", "fragments/frag_p38",
        "jacs_set/p38", "merck/cdk8_5cei_new_helix_loop_extra", "misc/cdk8_koehler", "macrocycles/ck2_custcore_hotlys")},
    **{f"fep:{k}": FAMILIES["MK2"] for k in (  # CHK1 (CAMK)
        "macrocycles/2E9P_lig4to7_alpha05", "opls_stress/chk1_set1", "opls_stress/chk1_set2", "opls_stress/chk1_set3",
        "opls_stress/chk1_set4", "opls_stress/chk1_set5", "opls_stress/chk1_set6", "opls_stress/chk1_set7",
        "scaffold_hopping/CHK1_3u9n_corehop", "waterset/chk1")},
    **{f"fep:{k}": FAMILIES["BRAF"] for k in ("charge_annhil/dlk", "charge_annhil/irak4_s2", "charge_annhil/irak4_s3")},
    **{f"fep:{k}": FAMILIES["A2A"] for k in (  # class A GPCRs
        "gpcrs/a2a_hip278", "gpcrs/ox2_hip_custcore", "gpcrs/p2y1_meta_sub", "gpcrs/p2y1_ortho_sub")},
    "fep:merck/eg5_extraprotomers": FAMILIES["KIF11"],
    "fep:fragments/frag_mcl1_noweak": FAMILIES["BCL2"], "fep:jacs_set/mcl1_extra_flips": FAMILIES["BCL2"],
    **{f"fep:{k}": FAMILIES["FXA"] for k in (  # trypsin-like serine proteases
        "mcs_docking/hne", "scaffold_hopping/TPSB2_3v7t", "charge_annhil/thrombin_whole_map", "jacs_set/thrombin_core",
        "waterset/throm_nozob_hip75", "opls_stress/fxa_set3", "opls_stress/fxa_set4", "opls_stress/fxa_set5",
        "opls_stress/fxa_set6", "opls_stress/fxa_yoshikawa_set", "scaffold_hopping/Fxa_2ei8", "waterset/urokinase")},
    **{f"fep:{k}": FAMILIES["HIV1PR"] for k in (  # aspartic proteases: BACE1, renin, HIV-1 protease
        "mcs_docking/renin_customcore", "misc/hiv_prot_ekegren", "jacs_set/bace", "janssen_bace/bace_ciordia_prospective",
        "janssen_bace/bace_ciordia_retro", "janssen_bace/bace_keranen_p2", "janssen_bace/bace_p3_arg368_in",
        "macrocycles/2B8V_lig24and25_alpha05", "macrocycles/2Q15_lig17to21_alpha05", "opls_stress/cr_bace1",
        "opls_stress/cr_bace2", "opls_stress/hc_bace1", "opls_stress/hc_bace2", "opls_stress/pb_bace3",
        "scaffold_hopping/Bace1_4zsp")},
    "fep:scaffold_hopping/Era_2q70": FAMILIES["AR"],  # estrogen receptor alpha (nuclear receptors)
}

# Reviewed pose/affinity proteins in no screening family or superfamily (their own family).
AFFINITY_OWN: frozenset[str] = frozenset({
    "pdb:1igj", "pdb:2pcp", "uniprot:A2NHM3", "uniprot:P01837", "uniprot:P01868", "uniprot:Q52L64",  # antibodies
    "uniprot:O26232", "uniprot:P00918", "uniprot:P02754", "uniprot:P02766", "uniprot:P04058", "uniprot:P05089",
    "uniprot:P07900", "uniprot:P09211", "uniprot:P0A5R0", "uniprot:P0A6D3", "uniprot:P11086", "uniprot:P18031",
    "uniprot:P19491", "uniprot:P22734", "uniprot:P27487", "uniprot:Q53TN1", "uniprot:P28720", "uniprot:P29354",
    "uniprot:P62993", "uniprot:Q76353", "uniprot:Q99AU2", "uniprot:Q9H2K2", "uniprot:Q9HYN5",
    *(f"fep:{k}" for k in (
        "bayer_macrocycles/ftase_extraligs_custcore_stereo", "bayer_macrocycles/wagner_brd4", "charge_annhil/ephx2",
        "charge_annhil/ptp1b", "jacs_set/ptp1b", "merck/shp2", "fragments/frag_liga_auto", "fragments/frag_mup1",
        "fragments/hsp90_frag_2rings", "fragments/hsp90_frag_single_ring", "macrocycles/3RKZ_lig62to70_alpha05",
        "macrocycles/hsp90_3hvd_custcore", "waterset/hsp90_kung", "waterset/hsp90_woodhead",
        "fragments/t4lysozyme_uvt", "macrocycles/MHT1_lig3_alpha05", "merck/hif2a_automap", "merck/pfkfb3_automap",
        "merck/tnks2_fullmap", "misc/galectin3_extra", "misc/hfaah", "scaffold_hopping/EZH2_5ij7_corehop",
        "waterset/brd41_ASH106", "waterset/scyt_dehyd", "waterset/taf12")),
})


def affinity_group(key: str, level: str = "family") -> str:
    """The screening group (at ``level``) of a pose/affinity training protein (a cache example's ``target``);
    ``own:<key>`` for a reviewed protein outside every screening group. Raises for an unreviewed key."""
    if key in AFFINITY_FAMILIES:
        return AFFINITY_FAMILIES[key][LEVELS.index(level)]
    if key in AFFINITY_OWN:
        return f"own:{key}"
    raise ValueError(f"pose/affinity protein {key!r} is not placed in atomgrid.families.AFFINITY_FAMILIES or "
                     "AFFINITY_OWN; review it before it trains a cross-target fold")


def held_out_targets(fold: Fold) -> tuple[str, ...]:
    """Every screening target a fold does not train on (its test, its validation group, the final test and
    the targets no fold evaluates): the proteins whose pose/affinity complexes its training must drop too."""
    return tuple(sorted(set(FAMILIES) - set(fold.train)))
