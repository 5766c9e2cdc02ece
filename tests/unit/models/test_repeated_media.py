"""Repeated pictures in a batch share one backbone pass (``adapters.base.distinct_media``) and
give the same logits and gradients as the plain path, which runs every copy."""

import torch
from tiny_rows import text_rows

from unival.data.modality import Modality
from unival.models import build_model
from unival.models.adapters import ADAPTERS
from unival.models.adapters.base import distinct_media
from unival.models.adapters.repeated_media import equal_rows
from unival.models.perf import plain_path

NO_DROPOUT = dict(dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)


def _model(**overrides):
    torch.manual_seed(0)
    return build_model("unival_tiny", 60, video_encoder_name="none", **{**NO_DROPOUT, **overrides})


def _batch(image_rows):
    """Rows whose picture is ``pictures[image_rows[i]]``; every row has its own text."""
    gen = torch.Generator().manual_seed(3)
    pictures = torch.randn(max(image_rows) + 1, 3, 64, 64, generator=gen)
    net_input, prev = text_rows(len(image_rows), gen)
    net_input["patch_images"] = pictures[torch.tensor(image_rows)]
    return net_input, prev


def _run(model, net_input, prev):
    """(logits, {name: grad}, backbone batch sizes seen) of one forward/backward."""
    sizes = []
    hook = model.encoder.embed_images.register_forward_hook(
        lambda module, args, out: sizes.append(args[0].size(0))
    )
    model.zero_grad(set_to_none=True)
    logits, _ = model(**net_input, prev_output_tokens=prev)
    if model.training:
        torch.log_softmax(logits, -1).mean().backward()
    hook.remove()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return logits.detach(), grads, sizes


def _fast_and_plain(model, net_input, prev):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with plain_path():
        plain = _run(model, net_input, prev)
    plain_buffers = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    fast = _run(model, net_input, prev)
    return fast, plain, plain_buffers


def _assert_same(fast, plain):
    torch.testing.assert_close(fast[0], plain[0], atol=1e-5, rtol=1e-5)
    assert fast[1].keys() == plain[1].keys()
    for name in plain[1]:
        torch.testing.assert_close(fast[1][name], plain[1][name], atol=2e-5, rtol=1e-4, msg=name)


def test_distinct_media_rebuilds_the_batch_from_its_distinct_rows():
    backbone = torch.nn.Conv2d(3, 4, 3).eval()
    pictures = torch.randn(3, 3, 8, 8)
    media = pictures[torch.tensor([2, 0, 2, 1, 0])]
    unique, inverse = distinct_media(media, backbone)
    assert unique.shape == (3, 3, 8, 8)
    assert torch.equal(unique[inverse], media)
    assert distinct_media(pictures, backbone) is None  # nothing repeated: run as is


def test_a_training_backbone_with_dropout_shares_nothing():
    """Dropout (any of torch's kinds) draws per-sample masks: every copy must run."""
    media = torch.randn(2, 3, 8, 8)[torch.tensor([0, 1, 0, 1])]
    for dropout in (torch.nn.Dropout(0.5), torch.nn.Dropout2d(0.5)):
        backbone = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), dropout).train()
        assert distinct_media(media, backbone) is None
        dropout.p = 0.0
        assert distinct_media(media, backbone) is not None


def test_training_with_each_picture_twice_runs_the_backbone_once_per_picture():
    """Pretraining's layout: each image-text row comes with a negative of the same image.
    Equal multiplicities keep the batch-norm statistics, so logits and gradients match."""
    model = _model().train()
    net_input, prev = _batch([0, 0, 1, 1, 2, 2])
    fast, plain, plain_buffers = _fast_and_plain(model, net_input, prev)
    assert plain[2] == [6] and fast[2] == [3]
    _assert_same(fast, plain)
    _assert_same_running_statistics(model, plain_buffers)  # running_var: n / (n - 1), n halves


def _assert_same_running_statistics(model, plain_buffers):
    for name, value in model.state_dict().items():
        if name.endswith(("running_mean", "running_var")):
            torch.testing.assert_close(value, plain_buffers[name], atol=1e-6, rtol=1e-5)


def test_training_with_counts_sharing_a_divisor_runs_count_over_divisor_copies():
    """Pretraining's layout when a picture also serves a second image-text pair: counts 4, 2,
    2 weigh the pictures 2:1:1, as 2, 1, 1 copies do; counts 6 and 3 as 2 and 1 copies."""
    for layout, rows in (([0, 1, 0, 2, 0, 1, 2, 0], 4), ([0, 1, 0, 0, 1, 0, 0, 1, 0], 3)):
        model = _model().train()
        net_input, prev = _batch(layout)
        fast, plain, plain_buffers = _fast_and_plain(model, net_input, prev)
        assert plain[2] == [len(layout)] and fast[2] == [rows]
        _assert_same(fast, plain)
        _assert_same_running_statistics(model, plain_buffers)


def test_training_with_a_picture_four_times_has_the_same_gradients_on_every_run():
    """The features go back to the rows by ``index_select``, whose backward adds a picture's
    copies in a fixed order; indexing's backward adds them with atomic adds on the CPU, whose
    order (and so the rounding of four or more copies) changed from run to run."""
    model = _model().train()
    net_input, prev = _batch([0, 0, 0, 0, 1, 1, 2, 2])
    state = {k: v.clone() for k, v in model.state_dict().items()}
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        runs = []
        for _ in range(4):
            model.load_state_dict(state)
            runs.append(_run(model, net_input, prev))
    finally:
        torch.set_num_threads(threads)
    assert runs[0][2] == [4]  # counts 4, 2, 2: 2, 1 and 1 copies
    for logits, grads, _ in runs[1:]:
        assert torch.equal(logits, runs[0][0])
        assert all(torch.equal(grads[name], runs[0][1][name]) for name in grads)
    feats = ADAPTERS[Modality.IMAGE].features(model.encoder, net_input["patch_images"])
    assert feats.grad_fn.name() == "IndexSelectBackward0"


def test_training_with_unequal_repeats_runs_every_copy():
    """[a, a, b] weighs picture a twice in the batch statistics: fewer copies of a alone would
    change them, and the counts 2 and 1 share no divisor."""
    model = _model().train()
    net_input, prev = _batch([0, 0, 1])
    fast, plain, _ = _fast_and_plain(model, net_input, prev)
    assert fast[2] == [3]
    _assert_same(fast, plain)


def test_training_with_stochastic_depth_runs_every_copy():
    """Each copy must draw its own drop-path mask, as on the plain path."""
    model = _model(resnet_layers="2,2,2", resnet_drop_path_rate=0.5).train()
    net_input, prev = _batch([0, 0, 1, 1])
    _, _, sizes = _run(model, net_input, prev)
    assert sizes == [4]


def test_evaluation_shares_unequal_repeats():
    """Several questions about one image (VQA): running statistics, any multiplicity."""
    model = _model().eval()
    net_input, prev = _batch([0, 0, 0, 1, 2, 1])
    with torch.no_grad():
        fast, plain, _ = _fast_and_plain(model, net_input, prev)
    assert plain[2] == [6] and fast[2] == [3]
    torch.testing.assert_close(fast[0], plain[0], atol=1e-5, rtol=1e-5)


def test_equal_rows_groups_as_the_exact_row_sort_does():
    gen = torch.Generator().manual_seed(0)
    distinct = torch.randn(5, 3 * 16 * 16, generator=gen)
    picks = torch.tensor([3, 0, 3, 1, 4, 0, 3])  # row 2 never occurs
    first, inverse, counts = equal_rows(distinct[picks])
    assert torch.equal(distinct[picks][first][inverse], distinct[picks])
    assert sorted(counts.tolist()) == [1, 1, 2, 3]
    assert torch.equal(first.sort().values, torch.tensor([0, 1, 3, 4]))  # first occurrences


def test_rows_that_share_a_weighted_sum_but_differ_stay_apart():
    # with two columns the weights are (1, 2): both rows sum to 2, yet they differ
    rows = torch.tensor([[2.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    first, inverse, counts = equal_rows(rows)
    assert torch.equal(rows[first][inverse], rows)
    assert sorted(counts.tolist()) == [1, 2]
