"""Self-conditioning: k-means clusters of the pictures, a generator that picks its cluster from its
noise in proportion to the data, and a training step that shows D each picture with its cluster."""

from __future__ import annotations

import pytest
import torch

from core.config import ConfigError
from core.data.clusters import cluster_pictures, shares
from core.data.datasets import DataError, ImageSet
from core.models import build_generator
from core.presets import PRESETS
from core.sharing.export import generate, load_generator, save_generator
from core.training.notices import start_notices
from core.training.session import Session


def three_kinds(per_kind: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Blank pictures, pictures with the left half lit, and with the bottom half lit, with a little noise."""
    g = torch.Generator().manual_seed(seed)
    images = torch.zeros(3 * per_kind, 1, 28, 28)
    images[per_kind:2 * per_kind, :, :, :14] = 200
    images[2 * per_kind:, :, 14:, :] = 200
    images += torch.rand(images.shape, generator=g) * 40
    kinds = torch.arange(3).repeat_interleave(per_kind)
    order = torch.randperm(len(images), generator=g)
    return images[order].to(torch.uint8), kinds[order]


def _tiny(**more):
    values = {"model.g_hidden": [8], "model.d_hidden": [8], "model.z_dim": 8, "run.batch_size": 8,
              "run.quality_every": 0, "run.device": "cpu", "model.clusters": 3, **more}
    return PRESETS["default"].with_values(**values)


def test_k_means_groups_look_alikes_the_same_way_for_a_seed():
    images, kinds = three_kinds()
    ids = cluster_pictures(images, 3, seed=1)
    for kind in range(3):  # each kind of picture is one cluster, and no two kinds share one
        assert ids[kinds == kind].unique().numel() == 1
    assert ids.unique().numel() == 3
    assert torch.equal(ids, cluster_pictures(images, 3, seed=1))
    assert torch.allclose(shares(ids, 3), torch.full((3,), 1 / 3))


def test_more_clusters_than_pictures_is_refused_by_name():
    images, _ = three_kinds(per_kind=1)
    with pytest.raises(DataError, match=r"model\.clusters = 5: the dataset has only 3 picture"):
        cluster_pictures(images, 5, seed=0)


@pytest.mark.parametrize("noise", ["gaussian", "uniform"])
def test_the_generator_draws_each_cluster_as_often_as_its_share(noise):
    G = build_generator(_tiny(**{"model.noise": noise}))
    wanted = torch.tensor([0.5, 0.1, 0.4])
    G.set_cluster_shares(wanted)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(20_000, 8, generator=g) if noise == "gaussian" else torch.rand(20_000, 8, generator=g) * 2 - 1
    drawn = torch.bincount(G.cluster_of(z), minlength=3) / len(z)
    assert torch.allclose(drawn, wanted, atol=0.01)
    assert G(z[:4]).shape == (4, 1, 28, 28)  # unconditional from outside: noise in, picture out


def test_a_step_shows_d_reals_with_their_cluster_and_fakes_with_the_one_their_noise_picked():
    images, kinds = three_kinds(per_kind=16)
    s = Session(_tiny(), ImageSet(images, None, "toy"), torch.device("cpu"))
    picked, judged = [], []
    cluster_of = s.G.cluster_of
    s.G.cluster_of = lambda z: picked.append(cluster_of(z)) or picked[-1]
    forward = s.D.forward
    s.D.forward = lambda x, y=None: judged.append(y) or forward(x, y)
    s.train_step()
    real_ids, fake_ids = judged[0][:8], judged[0][8:]  # one call on reals then fakes (spectral-norm D)
    assert torch.equal(fake_ids, picked[0])
    assert torch.equal(judged[1], picked[0])  # G's update: the same fakes, the same clusters
    ids = cluster_pictures(images, 3, seed=0)
    assert set(real_ids.tolist()) <= set(ids.tolist())
    assert torch.allclose(s.G.cluster_cdf, shares(ids, 3).cumsum(0))


def test_a_saved_self_conditioned_generator_keeps_its_cluster_shares(tmp_path):
    images, _ = three_kinds(per_kind=16)
    config = _tiny()
    s = Session(config, ImageSet(images, None, "toy"), torch.device("cpu"))
    s.G.set_cluster_shares(torch.tensor([0.6, 0.3, 0.1]))
    save_generator(s.G, config, tmp_path / "g", s.step)
    G, loaded, _ = load_generator(tmp_path / "g")
    assert torch.allclose(G.cluster_cdf, torch.tensor([0.6, 0.9, 1.0]))
    assert generate(G, loaded, 5, seed=0).shape == (5, 1, 28, 28)


def test_one_cluster_is_refused_and_labels_win_over_clusters():
    with pytest.raises(ConfigError, match=r"model\.clusters = 1"):
        PRESETS["default"].with_values(**{"model.clusters": 1})
    conditional = PRESETS["default"].with_values(**{"model.clusters": 10, "model.conditional": True})
    G = build_generator(conditional)
    assert not G.self_conditioned and G.num_classes == 10  # ticking Conditional just works


def test_fewer_pictures_than_clusters_get_one_cluster_each():
    images, _ = three_kinds(per_kind=2)
    s = Session(_tiny(**{"model.clusters": 10}), ImageSet(images, None, "toy"), torch.device("cpu"))
    assert (s.cluster_shares > 0).sum() == 6 and "6 clusters" in " ".join(start_notices(s))
    s.train_step()
    assert int(s.G.cluster_of(torch.randn(1000, 8)).max()) < 10


def test_packed_pictures_are_judged_with_their_clusters():
    images, _ = three_kinds(per_kind=16)
    s = Session(_tiny(**{"model.d_pack": 2}), ImageSet(images, None, "toy"), torch.device("cpu"))
    s.train_step()
    assert s.D(torch.randn(8, 1, 28, 28), torch.arange(8) % 3).shape == (4,)


def test_the_clusters_do_not_depend_on_the_run_seed():
    """A fork with another seed must keep the clusters its checkpoint's D and G learned."""
    images, _ = three_kinds(per_kind=16)
    labels = [Session(_tiny(**{"run.seed": seed}), ImageSet(images, None, "toy"), torch.device("cpu")).batches.labels
              for seed in (0, 1, 2, 3)]
    assert all(torch.equal(labels[0], other) for other in labels[1:])


def test_the_same_pictures_are_clustered_once_per_process(monkeypatch):
    from core.data import clusters

    images, _ = three_kinds(per_kind=5, seed=7)
    calls = []
    real = clusters._cluster
    monkeypatch.setattr(clusters, "_cluster", lambda *a: calls.append(1) or real(*a))
    first = cluster_pictures(images, 3, seed=0)
    again = cluster_pictures(images.clone(), 3, seed=0)  # the same pictures in another tensor
    other = cluster_pictures(images, 2, seed=0)
    assert torch.equal(first, again) and len(calls) == 2 and other.max() <= 1


def colour_kinds(per_kind: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Red squares, blue horizontal stripes and green vertical stripes on black, placed and lit a little
    differently each: kinds a person tells apart by colour and by the direction of their edges."""
    g = torch.Generator().manual_seed(seed)
    images = torch.zeros(3 * per_kind, 3, 32, 32)
    for i in range(per_kind):
        o = int(torch.randint(0, 8, (1,), generator=g))
        images[i, 0, 4 + o:20 + o, 4 + o:20 + o] = 1
        images[per_kind + i, 2, (o % 4)::4] = 1
        images[2 * per_kind + i, 1, :, (o % 4)::4] = 1
    images = images * (0.6 + 0.4 * torch.rand(len(images), 1, 1, 1, generator=g)) * 255
    kinds = torch.arange(3).repeat_interleave(per_kind)
    order = torch.randperm(len(images), generator=g)
    return images[order].to(torch.uint8), kinds[order]


def test_colour_pictures_are_grouped_by_kind_the_same_way_for_a_seed():
    from core.data import clusters

    images, kinds = colour_kinds()
    ids = cluster_pictures(images, 3, seed=4)
    for kind in range(3):
        assert ids[kinds == kind].unique().numel() == 1
    assert ids.unique().numel() == 3
    clusters._REMEMBERED.clear()  # computed again, not looked up
    assert torch.equal(ids, cluster_pictures(images, 3, seed=4))


def test_a_colour_pictures_features_do_not_depend_on_the_rest_of_its_batch():
    from core.data.clusters import _colour_features

    x = colour_kinds()[0].float() / 255
    assert torch.allclose(_colour_features(x)[:5], _colour_features(x[:5]), atol=1e-6)


def test_auto_clusters_follow_the_number_of_pictures():
    from core.config import clusters_for

    assert [clusters_for(n) for n in (150, 250, 1_000, 3_900, 60_000)] == [0, 2, 10, 39, 50]
    config = PRESETS["folder"].with_values(**{"model.clusters": "auto"})
    assert config.for_dataset(1_000).model.clusters == 10 and config.for_dataset(150).model.clusters == 0
    with pytest.raises(ConfigError, match="model.clusters = 'many'"):
        config.with_values(**{"model.clusters": "many"})


# ---- clusters inside a folder's sub-folders (model.clusters_by_folder) -------------------------------

def test_clusters_are_shared_out_over_kinds_by_size_one_each_at_least():
    from core.data.clusters import clusters_per_kind
    assert clusters_per_kind([5, 1, 100], 10) == [1, 1, 8]
    assert clusters_per_kind([10, 10], 5) == [3, 2]  # ties: the earlier kind
    assert clusters_per_kind([1, 1, 1], 10) == [1, 1, 1]  # never more clusters than pictures
    assert clusters_per_kind([2, 50], 3) == [1, 2]
    assert clusters_per_kind([3, 3, 3], 2) is None  # more kinds than clusters


def test_clusters_made_within_kinds_never_mix_two_kinds():
    images, looks = three_kinds(per_kind=12)
    kinds = (torch.arange(36) % 2)  # two "sub-folders" cutting across the looks
    ids = cluster_pictures(images, 5, seed=0, within=kinds)
    first, second = set(ids[kinds == 0].tolist()), set(ids[kinds == 1].tolist())
    assert first and second and not first & second
    assert first | second <= set(range(5))
    # Without the kinds, k-means groups by look and mixes the two kinds in a cluster.
    plain = cluster_pictures(images, 5, seed=0)
    assert any(set(kinds[plain == c].tolist()) == {0, 1} for c in plain.unique())


def _two_folders(per_kind: int = 12):
    images, _ = three_kinds(per_kind=per_kind)
    kinds = torch.arange(len(images)) % 2
    return ImageSet(images, None, "toy", kinds=kinds, kind_names=("cats", "dogs"))


def test_a_session_makes_its_clusters_inside_the_folders_sub_folders_and_says_so():
    data = _two_folders()
    s = Session(_tiny(**{"model.clusters": 4, "model.clusters_by_folder": True}), data, torch.device("cpu"))
    assert any("made inside each of the folder's 2 sub-folders (cats, dogs)" in n for n in start_notices(s))
    ids = cluster_pictures(data.images, 4, seed=0, within=data.kinds)
    assert torch.allclose(s.G.cluster_cdf, shares(ids, 4).cumsum(0))
    off = Session(_tiny(**{"model.clusters": 4}), data, torch.device("cpu"))  # the setting off: as before
    assert torch.allclose(off.G.cluster_cdf, shares(cluster_pictures(data.images, 4, seed=0), 4).cumsum(0))
    assert not any("sub-folders" in n for n in start_notices(off))


def test_auto_clusters_are_at_least_one_per_sub_folder():
    config = PRESETS["folder"].with_values(**{"model.clusters_by_folder": True})
    assert config.for_dataset(711, kinds=8).model.clusters == 8  # 7 by the count alone
    assert config.for_dataset(4_657, kinds=8).model.clusters == 46
    assert config.for_dataset(150, kinds=8).model.clusters == 0  # too few pictures: no clusters at all
    assert config.with_values(**{"model.clusters_by_folder": False}).for_dataset(711, kinds=8).model.clusters == 7


def test_fewer_clusters_than_sub_folders_cluster_the_whole_folder_and_say_so():
    data = _two_folders()
    data = ImageSet(data.images, None, "toy", kinds=torch.arange(len(data)) % 3, kind_names=("a", "b", "c"))
    s = Session(_tiny(**{"model.clusters": 2, "model.clusters_by_folder": True}), data, torch.device("cpu"))
    assert any("model.clusters = 2 is fewer than its 3 sub-folders" in n for n in start_notices(s))
    assert torch.allclose(s.G.cluster_cdf, shares(cluster_pictures(data.images, 2, seed=0), 2).cumsum(0))
