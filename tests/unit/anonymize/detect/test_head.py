"""The span head: its graph computes the trained network, its decoding is the CRF's best
path, the tagger runs it without changing LAC's tags, fusion adds its spans as documented."""

from __future__ import annotations

import itertools
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest

from anonymize.detect import _encoder, _head, _head_train, fusion
from anonymize.detect._head import Learned
from anonymize.detect.findings import Span
from anonymize.detect.fusion import _cleaned, _learned_addresses, fuse
from anonymize.detect.tagger import Tagger, tagger
from anonymize.detect.vector import scan_table

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _head_graph(
    weights: dict[str, npt.NDArray[np.float32]],
    linear: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
    *,
    quantized: bool = False,
) -> Any:
    """A session of the head alone: states (steps, batch, 256) and ``length`` in, the
    head's scores out, wired by :func:`_head.append` over the states and the scores
    ``linear`` gives them."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    g = _encoder._Graph(signed=False, quantized=quantized)
    out = _head.append(g, "o2", linear, weights)
    f = TensorProto.FLOAT
    graph = helper.make_graph(
        g.nodes,
        "head",
        [
            helper.make_tensor_value_info("o2", f, [None, None, 256]),
            helper.make_tensor_value_info("length", TensorProto.INT64, [None]),
        ],
        [helper.make_tensor_value_info(out, f, [None, None, None])],
        g.inits,
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _network(seed: int, scores: int, hidden: int) -> tuple[Any, Any]:
    """A torch head with random weights (its CRF too), and a random linear layer of
    ``scores`` scores over 256 states."""
    import torch

    torch.manual_seed(seed)
    model = _head_train._model(256 + scores, hidden).eval()
    for p in model.crf.parameters():
        torch.nn.init.normal_(p)
    rng = np.random.default_rng(seed)
    linear = (
        rng.normal(scale=0.3, size=(256, scores)).astype(np.float32),
        rng.normal(size=scores).astype(np.float32),
    )
    return model, linear


def _torch_scores(model: Any, linear: Any, states: Any, lengths: Any) -> Any:
    """The torch head's scores over (batch, steps, 256) states and their linear scores."""
    import torch

    x = np.concatenate([states, states @ linear[0] + linear[1]], axis=2).astype(np.float32)
    with torch.no_grad():
        return model(torch.tensor(x), torch.tensor(lengths)).numpy()


def test_graph_computes_the_trained_network() -> None:
    """torch's GRU (gates r, z, n, two biases) through to_onnx_layout and append gives
    the graph's GRU the same network, the scores' product folded into the states': the
    same scores for rows of different lengths in one padded batch, the backward
    direction starting at each row's own end."""
    hidden = 6
    model, linear = _network(3, 7, hidden)
    weights = _head_train.to_onnx_layout(model.state_dict())
    lengths = np.array([9, 4, 1, 7], dtype=np.int64)
    rng = np.random.default_rng(3)
    states = rng.normal(size=(len(lengths), int(lengths.max()), 256)).astype(np.float32)
    expected = _torch_scores(model, linear, states, lengths)
    feed = {"o2": np.ascontiguousarray(states.transpose(1, 0, 2)), "length": lengths}
    (got,) = _head_graph(weights, linear).run(None, feed)
    for row, n in enumerate(lengths):
        np.testing.assert_allclose(got[row, :n], expected[row, :n], atol=1e-4)
    # a wrong gate order (torch's r, z, n kept) would not agree
    wrong = dict(
        weights, W=weights["W"][:, np.r_[hidden : 2 * hidden, 0:hidden, 2 * hidden : 3 * hidden]]
    )
    (bad,) = _head_graph(wrong, linear).run(None, feed)
    assert not np.allclose(bad[0, :9], expected[0, :9], atol=1e-3)
    # weights that read another number of scores than the encoder gives are refused
    with pytest.raises(RuntimeError, match="do not read this encoder"):
        _head_graph(weights, (linear[0][:, :6], linear[1][:6]))


def test_the_quantized_graph_is_the_network_within_its_rounding() -> None:
    """With 8-bit products (states within [-1, 1], as a GRU's are) the head's scores stay
    within a small distance of the trained network's, and a row's scores are the same
    alone as in a padded batch, bit for bit."""
    model, linear = _network(4, 59, 16)
    weights = _head_train.to_onnx_layout(model.state_dict())
    lengths = np.array([30, 12, 1, 25], dtype=np.int64)
    rng = np.random.default_rng(4)
    states = np.tanh(rng.normal(size=(len(lengths), 30, 256))).astype(np.float32)
    expected = _torch_scores(model, linear, states, lengths)
    session = _head_graph(weights, linear, quantized=True)
    feed = {"o2": np.ascontiguousarray(states.transpose(1, 0, 2)), "length": lengths}
    (got,) = session.run(None, feed)
    for row, n in enumerate(lengths):
        assert np.abs(got[row, :n] - expected[row, :n]).max() < 0.15
        alone = {"o2": np.ascontiguousarray(states[row : row + 1, :n].transpose(1, 0, 2))}
        (one,) = session.run(None, dict(alone, length=lengths[row : row + 1]))
        assert np.array_equal(one[0], got[row, :n])


def _best_path(em: npt.NDArray[np.float32], w: dict[str, npt.NDArray[np.float32]]) -> list[int]:
    """Every path scored (start + emissions + transitions + end); the best."""
    n = em.shape[1]
    best, path = -np.inf, None
    for tags in itertools.product(range(n), repeat=len(em)):
        s = w["start"][tags[0]] + w["end"][tags[-1]] + sum(em[i, t] for i, t in enumerate(tags))
        s += sum(w["transitions"][a, b] for a, b in itertools.pairwise(tags))
        if s > best:
            best, path = s, list(tags)
    assert path is not None
    return path


def test_decode_is_the_crfs_best_path() -> None:
    rng = np.random.default_rng(5)
    w = {
        "transitions": rng.normal(size=(5, 5)).astype(np.float32),
        "start": rng.normal(size=5).astype(np.float32) * 3,
        "end": rng.normal(size=5).astype(np.float32) * 3,
    }
    lengths = np.array([4, 1, 3, 2], dtype=np.int64)
    em = rng.normal(size=(4, 4, 5)).astype(np.float32)
    paths = _head.decode(em, lengths, w)  # type: ignore[arg-type]
    for row, n in enumerate(lengths):
        assert paths[row, :n].tolist() == _best_path(em[row, :n], w)


def test_confidence_is_the_crfs_probability_of_each_name() -> None:
    """Each name's probability (its characters, and no others, one name) is the sum over
    every tag path that holds it, of rows of different lengths in one padded batch."""
    rng = np.random.default_rng(11)
    w = {
        "transitions": rng.normal(size=(5, 5)).astype(np.float32),
        "start": rng.normal(size=5).astype(np.float32),
        "end": rng.normal(size=5).astype(np.float32),
    }
    lengths = np.array([6, 4, 5], dtype=np.int64)
    em = rng.normal(scale=2.0, size=(3, 6, 5)).astype(np.float32)
    em[:, :, 1] += 1.5  # names, often
    paths = np.array([[1, 2, 0, 1, 2, 2], [0, 1, 2, 0, 0, 0], [1, 0, 3, 1, 2, 0]], np.int64)
    got = _head.confidence(em, lengths, w, paths)

    def path_score(row: int, tags: tuple[int, ...]) -> float:
        s = (
            w["start"][tags[0]]
            + w["end"][tags[-1]]
            + sum(em[row, i, t] for i, t in enumerate(tags))
        )
        return float(s + sum(w["transitions"][a, b] for a, b in itertools.pairwise(tags)))

    checked = 0
    for row, n in enumerate(lengths.tolist()):
        every = list(itertools.product(range(5), repeat=n))
        scores = np.array([path_score(row, t) for t in every])
        weights = np.exp(scores - scores.max())
        for a, b, entity in _head.spans(paths[row, :n]):
            if entity != "PERSON":
                assert got[row, a] == 0
                continue
            holds = np.array([
                t[a] == 1 and all(x == 2 for x in t[a + 1 : b]) and (b == n or t[b] != 2)
                for t in every
            ])  # fmt: skip
            assert got[row, a] == pytest.approx(weights[holds].sum() / weights.sum(), rel=1e-4)
            checked += 1
    assert checked == 5
    assert not got[1, lengths[1] :].any()


def test_spans() -> None:
    assert _head.spans(np.array([2, 2, 0, 1, 1, 2, 4, 3], dtype=np.int64)) == [
        (3, 4, "PERSON"),
        (4, 6, "PERSON"),
        (7, 8, "CN_ADDRESS"),
    ]  # an -I without its -B opens nothing; a -B after a -B opens anew
    assert _head.spans(np.zeros(0, dtype=np.int64)) == []


def test_tag_ids_from_marks() -> None:
    assert _head_train.tag_ids(5, [(0, 2, "CN_ADDRESS"), (3, 5, "PERSON")]).tolist() == [
        3,
        4,
        0,
        1,
        2,
    ]


def test_weights_are_checked(tmp_path: Path) -> None:
    shipped = _head.weights()
    assert shipped["W"].shape == (2, 3 * _head.HIDDEN, 256 + 59)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **dict(shipped, linear_b=np.zeros(4, dtype=np.float32)))
    with pytest.raises(RuntimeError, match="not a span head"):
        _head.weights(bad)
    missing = tmp_path / "missing.npz"
    np.savez(missing, **{k: v for k, v in shipped.items() if k != "end"})
    with pytest.raises(RuntimeError, match="not a span head"):
        _head.weights(missing)


def test_training_learns_a_separable_rule() -> None:
    """A feature that marks names and another that marks addresses: a few epochs learn them."""
    rng = np.random.default_rng(7)
    examples = []
    for _ in range(64):
        tags = np.zeros(12, dtype=np.int64)
        a = int(rng.integers(0, 5))
        tags[a], tags[a + 1 : a + 3] = 1, 2
        tags[8], tags[9:11] = 3, 4
        x = rng.normal(scale=0.1, size=(12, 4)).astype(np.float32)
        x[tags == 1, 0] += 3
        x[tags == 2, 1] += 3
        x[tags == 3, 2] += 3
        x[tags == 4, 3] += 3
        states = np.zeros((12, 256), np.float32)
        states[:, :4] = x  # LAC's scores copy them (the linear layer below)
        examples.append((np.concatenate([states, x], axis=1), tags))
    w = _head_train.train(examples, epochs=40, hidden=8, batch=16)
    linear = (np.eye(256, 4, dtype=np.float32), np.zeros(4, np.float32))
    x = np.stack([e[0] for e in examples[:8]]).transpose(1, 0, 2)  # (steps, batch, 260)
    feed = {"o2": np.ascontiguousarray(x[:, :, :256]), "length": np.full(8, 12, dtype=np.int64)}
    (em,) = _head_graph(w, linear).run(None, feed)
    paths = _head.decode(em, np.full(8, 12, dtype=np.int64), w)
    assert all(paths[i].tolist() == examples[i][1].tolist() for i in range(8)), (
        "the head did not learn features that give its tags away"
    )


@cache
def _without_head() -> Tagger:
    return Tagger(head=False)


def test_the_head_leaves_lacs_tags_as_they_were() -> None:
    texts = ["患者王小明住在白云区宜都街U座1802室。", "", "雨桐：明天几点到？嘉豪：七点。" * 40]
    with_head = tagger().tag_ids(texts)
    for a, b in zip(with_head, _without_head().tag_ids(texts), strict=True):
        assert a.tolist() == b.tolist()
    assert _without_head().read(texts)[1] == [[], [], []]


def test_head_spans_alone_or_in_a_batch() -> None:
    """A text's spans are the same read alone or with others (each row within its length),
    and lie within the text; a text longer than the tagger's piece is read to its end."""
    target = "来电人覃秀梅反映青秀区竹溪大道36号翠湖新城7栋2单元楼下油烟扰民。"
    others = ["好的。", "民警苟建到场。" * 30, "通知：石门村三组村民请注意。", "x" * 700 + target]
    alone = tagger().head_spans([target])[0]
    assert alone, "the shipped head reads nothing in a plain work order"
    batch = tagger().head_spans([*others, target])
    assert batch[-1] == alone
    names = [h for h in alone if h.entity == "PERSON"]
    assert [target[h.start : h.end] for h in names] == ["覃秀梅"]
    assert 0.9 <= names[0].p <= 1  # the probability read at the name's first character
    assert all(h.p == 1.0 for h in alone if h.entity == "CN_ADDRESS")
    shifted = [(s - 700, e - 700, t) for s, e, t, _ in batch[3]]
    assert all(0 <= s < e <= len(target) for s, e, _ in shifted)
    assert all(e <= len(others[i]) for i, spans in enumerate(batch[:3]) for _, e, _, _ in spans)


def _s(a: int, b: int, entity: str, score: float = 0.85) -> Span:
    return Span(a, b, entity, score)


WANTED = frozenset({"PERSON", "CN_ADDRESS", "PHONE_NUMBER"})


def test_learned_addresses_replace_overlapping_fused_ones() -> None:
    text = "患者王小明，住白云区宜都街18号，另在天河区中山路3号有铺面，电话13800138000。"
    at = text.index
    found = [
        _s(2, 5, "PERSON"),
        _s(at("白云区"), at("宜都街") + 3, "CN_ADDRESS"),  # the rules' shorter reading
        _s(at("13800138000"), at("13800138000") + 11, "PHONE_NUMBER"),
    ]
    learned = [
        Learned(at("白云区"), at("18号") + 3, "CN_ADDRESS", 1.0),
        Learned(at("天河区"), at("3号") + 2, "CN_ADDRESS", 1.0),
        Learned(at("3800138"), at("3800138") + 4, "CN_ADDRESS", 1.0),  # over a phone: not taken
        Learned(2, 4, "PERSON", 1.0),  # names are fuse's business, not this step's
    ]
    out = _learned_addresses(
        text, found, learned, WANTED, _cleaned(text, tagger().words([text])[0])
    )
    assert [(text[s.start : s.end], s.entity) for s in out] == [
        ("王小明", "PERSON"),
        ("白云区宜都街18号", "CN_ADDRESS"),
        ("天河区中山路3号", "CN_ADDRESS"),
        ("13800138000", "PHONE_NUMBER"),
    ]
    assert _learned_addresses(text, found, learned, frozenset({"PERSON"}), []) == found


def test_learned_addresses_get_fusions_edges() -> None:
    """The head's addresses end where fusion's end: no count after a 号, no noun after a
    village, no estate after a number (…338号|小区门口)."""
    cases = [
        (
            "杭州市西湖区文三路12号200多户居民停水。",
            "杭州市西湖区文三路12号200",
            "杭州市西湖区文三路12号",
        ),
        (
            "您反映的邢台县浆水镇前南峪村林业承包纠纷已受理。",
            "邢台县浆水镇前南峪村林业",
            "邢台县浆水镇前南峪村",
        ),
        (
            "在龙岗区布吉街道吉华路338号小区门口被撞。",
            "龙岗区布吉街道吉华路338号小区",
            "龙岗区布吉街道吉华路338号",
        ),
    ]
    for text, read, expected in cases:
        start = text.index(read)
        learned = [Learned(start, start + len(read), "CN_ADDRESS", 1.0)]
        out = _learned_addresses(
            text, [], learned, WANTED, _cleaned(text, tagger().words([text])[0])
        )
        assert [text[s.start : s.end] for s in out] == [expected], text
    text = "物业通知：3号楼2单元漏水问题已处理完毕。"  # a building with no place's name: none
    start = text.index("3号楼")
    words = _cleaned(text, tagger().words([text])[0])
    assert (
        _learned_addresses(text, [], [Learned(start, start + 6, "CN_ADDRESS", 1.0)], WANTED, words)
        == []
    )


@pytest.mark.parametrize(
    ("text", "name", "sure"),
    [
        ("外卖到了以后发现汤全洒了一地，真是气死了。", "汤全", True),
        ("该公司在吉布提港口承建了一个项目。", "吉布提", False),  # a place, its 港口 after
        ("经查，被告柏林于2015年起拒不履行判决。", "柏林", True),  # LAC: a place, no noun after
        ("【银嘉专营店】订单详情，请核对。", "银嘉", False),  # a shop's: even when sure
        ("理发店的小哥阳光追了过去，没追上。", "阳光", True),  # fusion drops a common word
    ],
)
def test_learned_names_go_through_fusions_checks(text: str, name: str, sure: bool) -> None:
    """A name of the head where fusion found none is vetted as an unsure rule finding: not
    over an adverb (汤|全), not a place LAC reads (吉布提), not a shop's (银嘉|专营店), not
    where fusion's own checks drop it. A name the head is sure of (``HEAD_SURE``) passes
    the first two and fusion's checks; never a shop's, nor a place LAC reads with a
    place's noun after it (吉布提|港口)."""
    start = text.index(name)
    words = tagger().words([text])[0]
    doubtful = Learned(start, start + len(name), "PERSON", fusion.HEAD_SURE - 0.01)
    assert fuse(text, [], words, WANTED, [doubtful]) == [], text
    believed = fuse(text, [], words, WANTED, [doubtful._replace(p=fusion.HEAD_SURE)])
    kept = [(s.start, s.end, s.entity) for s in believed]
    assert kept == ([(start, start + len(name), "PERSON")] if sure else []), text


def test_a_learned_name_where_fusion_found_none_is_added() -> None:
    text = "班主任：请雨桐家长明天带孩子来学校一趟。"
    start = text.index("雨桐")
    words = tagger().words([text])[0]
    without = fuse(text, [], words, WANTED)
    assert all(s.entity != "PERSON" for s in without)  # fusion alone: no name here
    found = fuse(text, [], words, WANTED, [Learned(start, start + 2, "PERSON", 0.5)])
    assert [(s.start, s.end, s.entity) for s in found] == [(start, start + 2, "PERSON")]


_EDGES_TEXT = "被告委托代理人骆宾辩称原告系劳务外包。"


def test_a_sure_learned_name_sets_an_unsure_names_edges() -> None:
    """Over one fused name with other edges that is no form's field (骆宾辩|称, a role
    rule's 0.85 too), the head's name takes its place; not over a form's field (0.95), a
    finding of another entity, or two findings."""
    head = Learned(7, 9, "PERSON", 0.95)  # 被告委托代理人[骆宾]辩称…
    unsure = _s(7, 10, "PERSON", 0.8)
    assert fusion._learned_edges(_EDGES_TEXT, [unsure], [head]) == [_s(7, 9, "PERSON", 0.8)]
    assert fusion._learned_edges(_EDGES_TEXT, [_s(6, 9, "PERSON", 0.8)], [head]) == [
        _s(7, 9, "PERSON", 0.8)
    ]
    role = _s(7, 10, "PERSON", 0.85)  # a role word's rule (代理人): the head's edges
    assert fusion._learned_edges(_EDGES_TEXT, [role], [head]) == [_s(7, 9, "PERSON", 0.85)]
    for found in (
        [_s(7, 10, "PERSON", 0.95)],  # a form's field keeps its edges
        [_s(7, 10, "CN_ADDRESS", 0.8)],
        [unsure, _s(8, 12, "CN_ADDRESS", 0.8)],
        [_s(0, 7, "PERSON", 0.8), _s(9, 12, "PERSON", 0.8)],  # touching, not over
    ):
        assert fusion._learned_edges(_EDGES_TEXT, found, [head]) == found, found


def _scanned(text: str) -> list[tuple[str, str]]:
    found = scan_table(pl.DataFrame({"t": [text]}), fuse=True)
    return [(e, text[a:b]) for e, a, b in found.select("entity", "start", "end").rows()]


@pytest.mark.parametrize("filler", [490, 500, 505])
def test_an_address_across_a_long_sentences_cut_is_one(filler: int) -> None:
    """A sentence over the tagger's 512 characters is cut after a comma, not inside the
    address that straddles 512 (review: two overlapping addresses, or a 道 left out)."""
    tail = "我住在广州市天河区中山大道西89号华景新城7栋1802室，谢谢"
    assert _scanned("，" * filler + tail) == [
        ("CN_ADDRESS", "广州市天河区中山大道西89号华景新城7栋1802室")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("住在杭州市西湖区文三路12号200多户居民停水。", [("CN_ADDRESS", "杭州市西湖区文三路12号")]),
        ("小区在文三路88号110千伏变电站旁边。", [("CN_ADDRESS", "文三路88号")]),
        ("收货地址：北京市海淀区中关村大厦。", [("CN_ADDRESS", "北京市海淀区中关村大厦")]),
        (
            "您反映的邢台县浆水镇前南峪村林业承包纠纷已受理。",
            [("CN_ADDRESS", "邢台县浆水镇前南峪村")],
        ),
        (
            "和丽华家住古城区束河街道中和村九组，务农。",
            [("CN_ADDRESS", "古城区束河街道中和村九组")],
        ),
        ("昨天春燕发信息给我说她不来了。", [("PERSON", "春燕")]),  # 发|信息: no shop
    ],
)
def test_the_heads_spans_end_to_end(text: str, expected: list[tuple[str, str]]) -> None:
    """What the head reads, through fusion's edges and checks (review's cases)."""
    assert _scanned(text) == expected


def test_an_unsure_name_inside_a_learned_address_is_dropped() -> None:
    text = "住在兰州市城关区雁滩路2999号宏建南河春晓4-1-1702。"
    words = _cleaned(text, tagger().words([text])[0])
    at = text.index("南河春晓")
    found = [_s(at, at + 4, "PERSON", 0.8), _s(text.index("兰州"), at, "CN_ADDRESS")]
    learned = [Learned(text.index("兰州"), text.index("。"), "CN_ADDRESS", 1.0)]
    out = _learned_addresses(text, found, learned, WANTED, words)
    assert [(s.entity, text[s.start : s.end]) for s in out] == [
        ("CN_ADDRESS", "兰州市城关区雁滩路2999号宏建南河春晓4-1-1702")
    ]
    sure = [_s(at, at + 4, "PERSON", 0.9), *found[1:]]  # a sure name stays
    assert any(s.entity == "PERSON" for s in _learned_addresses(text, sure, learned, WANTED, words))


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("住址：海南省屯昌县，电话已留。", "海南省屯昌县"),
        ("户籍：河南省南阳市社旗县。", "河南省南阳市社旗县"),
    ],
)
def test_a_county_named_after_a_village_word_is_not_cut(text: str, place: str) -> None:
    """屯昌县, 社旗县: 屯 and 社 open a place's word here, no village's tail (review: 海南省屯)."""
    assert all(found == place for _, found in _scanned(text))


@pytest.mark.parametrize(
    ("name", "believable"),
    [
        ("骆宾", True),
        ("买买提明·阿不都拉", True),
        ("欧阳", False),  # a surname alone (欧阳|女士)
        ("吉克阿依户", False),
        ("谷强家", False),
        ("丽华姐", False),
        ("熊先生", False),
        ("📌马丹丹", False),  # a sign read into the name (the seeded corpus)
        ("马丹丹👉", False),
    ],
)
def test_which_sure_names_may_overrule_fusion(name: str, believable: bool) -> None:
    assert fusion._believable(name) is believable


def test_fuse_when_neither_lac_nor_the_head_reads_a_rules_name_then_dropped() -> None:
    """With the head, a rule's name that no LAC ``PER`` word and no name of the head lies
    over is dropped (当事人|陈述: a role word and a surname); without the head, fusion
    alone keeps it; a form's field (0.95) stays either way."""
    text = "上述事实有借条、银行转账凭证及当事人陈述在案佐证，双方均无异议。"
    start = text.index("陈述")
    words = tagger().words([text])[0]
    assert all(w.tag != "PER" for w in words)
    rule = Span(start, start + 2, "PERSON", 0.85)
    assert [s for s in fuse(text, [rule], words, WANTED, []) if s.entity == "PERSON"] == []
    assert rule in fuse(text, [rule], words, WANTED)  # no head: fusion's reading alone
    heard = [Learned(start, start + 2, "PERSON", 0.5)]
    assert rule in fuse(text, [rule], words, WANTED, heard)  # the head reads a name there
    field = Span(start, start + 2, "PERSON", 0.95)
    assert field in fuse(text, [field], words, WANTED, [])
