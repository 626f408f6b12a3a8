"""Retrieval of statute articles for a question (``--rag``): BM25 over the shipped database, offline.

Chinese text is indexed as overlapping character bigrams (a lone character stays a unigram) plus every
single character, and lower-cased ASCII words and numbers: no segmenter, no model, and the same
ranking on every machine. Bigrams carry the words; the characters, weighted at a third of a bigram in the
query, let a question still meet the statute when it words a term differently (改 / 修改 / 改变,
质权 / 出质). Each article is indexed with its law's short title, its chapter and its section, so 商标
in a question pulls 商标法 articles up and 犯罪 meets 刑法's 侵犯知识产权罪 section.

Questions are asked in everyday words and statutes use their own, so two tables add statutory wording
to the query, never replacing the question and always weighing less than it: ``REGISTER``, general
vocabulary (卖 → 销售, 法院 → 人民法院, 市场监管 → 工商行政管理部门), and ``EXPANSIONS``, common IP
situations (专利侵权 vs 未经专利权人许可…实施其专利). Articles the question cites itself
(《专利法》第十一条怎么理解) come first. The index is built on first use (well under a second) and kept
for the process.

Only the texts in force on the day asked (today, or ``--as-of``) are searched, so a superseded article
is never put before the model as law; every article in the context carries its version and validity,
and the header says how current the store is.
"""

from __future__ import annotations

import math
import re
from datetime import date

import bm25s
import numpy as np

from ecmiip.core.citations import cite, cite_versioned, verify_citations
from ecmiip.core.renumbering import reference_note
from ecmiip.core.statutes import Article, all_articles, current_articles, short_title, store

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN_RE = re.compile(f"[{_HAN}]+|[A-Za-z0-9]+")
_HAN_RE = re.compile(f"[{_HAN}]")

# Everyday situation → the words statutes use for it (added to the query, never replacing it).
EXPANSIONS = {
    # infringement in general
    "专利侵权": "侵犯专利权 未经专利权人许可 实施其专利",
    "商标侵权": "侵犯注册商标专用权",
    "著作权侵权": "侵犯著作权 未经著作权人许可",
    "版权": "著作权",
    "盗版": "未经著作权人许可 复制 发行 侵权复制品",
    "抄袭": "剽窃",
    "洗稿": "剽窃",
    "仿制": "制造",
    "仿造": "制造 相同或者近似",
    "仿冒": "混淆",
    "山寨": "近似 混淆",
    "冒牌": "假冒注册商标 侵犯注册商标专用权",
    "假货": "假冒注册商标的商品",
    "名牌": "注册商标 驰名商标",
    "大牌": "注册商标 驰名商标",
    "知名品牌": "驰名商标 为相关公众所熟知",
    "冒充": "假冒",
    "零件": "零部件",
    "配件": "零部件",
    "效果一样": "等同 基本相同的手段 相同的功能 相同的效果",
    "功能一样": "等同 基本相同的手段 相同的功能 相同的效果",
    # patent defences (prior art, prior use, research, lawful source, exhaustion) and purchases
    "被人告": "被控侵权人 被诉侵权人 抗辩 不构成侵权",
    "被起诉": "被控侵权人 被诉侵权人 抗辩 不构成侵权",
    "早就公开": "现有技术 现有设计 申请日以前在国内外为公众所知",
    "公开过": "现有技术 现有设计 申请日以前在国内外为公众所知",
    "老技术": "现有技术 申请日以前在国内外为公众所知",
    "先用": "在专利申请日前 已经制造相同产品 必要准备 原有范围内继续制造",
    "申请之前": "在专利申请日前 已经制造相同产品 必要准备 原有范围内继续制造",
    "继续生产": "原有范围内继续制造",
    "接着生产": "原有范围内继续制造",
    "科研": "科学研究和实验",
    "做研究": "科学研究和实验",
    "做实验": "科学研究和实验",
    "进货": "合法来源 不知道 合法取得 说明提供者",
    "进的货": "合法来源 不知道 合法取得 说明提供者",
    "正规渠道": "合法来源 合法取得",
    "批发": "合法来源 合法取得 说明提供者",
    "采购": "合法来源 合法取得 说明提供者",
    "购进": "合法来源 合法取得 说明提供者",
    "转手": "售出后 使用、许诺销售、销售、进口该产品",
    "转卖": "售出后 使用、许诺销售、销售、进口该产品",
    "二手": "售出后 使用、许诺销售、销售、进口该产品",
    "买了": "售出后 使用 买受人 出卖 标的物",
    "买的": "售出后 使用 买受人 出卖 标的物",
    "买来": "售出后 使用 买受人 出卖 标的物",
    # ownership: employees and commissions
    "上班": "职务发明创造 执行本单位的任务 本职工作 职务作品 工作任务",
    "工作中": "职务发明创造 执行本单位的任务 本职工作 职务作品 工作任务",
    "辞职": "离职 调离原单位 劳动、人事关系终止",
    "离职": "保密义务",
    "跳槽": "离职 前员工 保密义务 不正当手段 获取",
    "委托": "委托创作 受托人 委托人 合同约定",
    "logo": "美术作品 标志",
    # duration, validity, renewal
    "多少年": "期限 保护期 有效期",
    "多久": "期限 保护期 有效期",
    "几年": "期限 期限为",
    "到期": "期满 续展 有效期",
    "过期": "期满 届满 有效期限",
    "去世": "死亡后 终生及其死亡后五十年 保护期",
    "死后": "死亡后 终生及其死亡后五十年 保护期",
    "失效": "宣告该专利权无效 宣告无效 终止",
    "作废": "宣告该专利权无效 宣告无效 授予不符合本法有关规定",
    "还没授权": "专利申请公布后 专利权授予前 适当的费用",
    "忘了交": "没有按照规定缴纳 期限届满前终止",
    "没交": "没有按照规定缴纳 期限届满前终止",
    "不实施": "未实施或者未充分实施 强制许可",
    "没用过": "连续三年不使用 撤销",
    "手续": "申请 签订 协议 办理 登记 核准",
    # trademarks
    "抢注": "抢先注册 不正当手段 已经使用并有一定影响 在先权利 宣告无效",
    "囤积": "不以使用为目的的恶意商标注册申请",
    "倒卖": "不以使用为目的的恶意商标注册申请",
    "标签": "注册商标标识 伪造 擅自制造",
    "字号": "企业名称",
    "公司名称": "企业名称 字号",
    # copyright exceptions and uses
    "合理使用": "可以不经著作权人许可 不向其支付报酬 适当引用",
    "引用": "为介绍、评论某一作品或者说明某一问题 适当引用 已经发表的作品",
    "评论": "为介绍、评论某一作品 适当引用",
    "影评": "为介绍、评论某一作品 适当引用",
    "截图": "复制 适当引用",
    "上课": "学校课堂教学 少量复制 已经发表的作品",
    "教学": "学校课堂教学 少量复制",
    "复印": "复制",
    "公园": "设置或者陈列在公共场所的艺术作品 临摹 绘画 摄影",
    "雕塑": "美术作品 设置或者陈列在公共场所的艺术作品",
    "搬到": "未经著作权人许可 通过信息网络向公众传播 提供作品",
    "转发": "通过信息网络向公众传播",
    "盗用": "未经许可 使用",
    "转载": "通过信息网络向公众传播 信息网络传播权",
    "搬运": "未经著作权人许可 通过信息网络向公众传播 提供作品",
    "公益": "免费表演 未向公众收取费用 不以营利为目的",
    "翻唱": "录音制品 已经合法录制为录音制品的音乐作品",
    "有声书": "录音制品 复制 改编",
    "二创": "改编 改编权 原作品 著作权人许可",
    "翻拍": "摄制 改编 视听作品 电影作品 制作者 原作品 许可",
    "广告": "未经著作权人许可 使用作品 复制 发行",
    "商用": "商业使用 未经许可 使用作品",
    "照片": "摄影作品",
    "破解": "避开或者破坏技术措施",
    "下载": "通过信息网络向公众传播 信息网络传播权",
    "反编译": "反向工程",
    "软件": "计算机软件",
    # online platforms
    "平台": "网络服务提供者",
    "网站": "网络服务提供者",
    "网盘": "网络服务提供者 信息存储空间 网络用户",
    "上传": "网络用户 服务对象 信息存储空间",
    "下架": "删除 屏蔽 断开链接",
    "不删": "删除 断开链接 通知书 必要措施",
    "通知": "通知书 删除 断开链接 初步证据",
    "投诉": "通知书 删除 断开链接",
    "恢复": "书面说明 恢复 服务对象",
    "首页": "热播影视作品 主要页面 推荐 明知 应知",
    "热播": "热播影视作品",
    "搜索": "搜索或者链接服务 断开链接",
    "链接": "搜索或者链接服务 断开链接",
    # trade secrets and unfair competition
    "商业机密": "商业秘密",
    "配方": "商业秘密 技术信息 配方",
    "秘方": "商业秘密 技术信息 配方",
    "偷用": "以不正当手段获取 盗窃 披露 使用",
    "偷了": "以不正当手段获取 盗窃 披露 使用",
    "偷走": "以不正当手段获取 盗窃 披露 使用",
    "窃取": "以不正当手段获取 盗窃 披露 使用",
    "泄露": "披露 商业秘密",
    "图纸": "技术信息 商业秘密",
    "报价": "经营信息 客户信息",
    "供应商": "保密义务 合同约定",
    "带走": "以不正当手段获取 披露 使用 商业秘密",
    "客户": "客户信息 经营信息",
    "拆开": "反向工程 拆卸 测绘 分析",
    "拆解": "反向工程 拆卸 测绘 分析",
    "包装": "包装 装潢 有一定影响的 标识 混淆",
    "买错": "混淆 引人误认",
    "谣言": "商业诋毁 虚假信息 误导性信息 商业信誉 商品声誉",
    "造谣": "商业诋毁 虚假信息 误导性信息 商业信誉 商品声誉",
    "抹黑": "商业诋毁 虚假信息 商业信誉 商品声誉",
    # plant varieties
    "留种": "农民 自繁自用 繁殖材料 授权品种",
    "种子": "繁殖材料",
    "套牌": "授权品种 繁殖材料 未经品种权人许可",
    # remedies and procedure
    "赔偿": "赔偿数额",
    "禁令": "行为保全 诉前 责令停止有关行为 难以弥补的损害 情况紧急",
    "叫停": "行为保全 诉前 责令停止有关行为 难以弥补的损害 情况紧急",
    "法院禁止": "行为保全 责令停止有关行为 难以弥补的损害 情况紧急",
    "证据保全": "保全证据 证据可能灭失 以后难以取得",
    "转移": "证据可能灭失 以后难以取得",
    "销毁": "证据可能灭失 以后难以取得 保全证据",
    "输了": "申请有错误 生效裁判认定不构成侵权 赔偿",
    "败诉": "申请有错误 生效裁判认定不构成侵权 赔偿",
    "展会": "展销会 时效性较强的场合",
    "鉴定": "鉴定机构 鉴定意见 检测",
    "才发现": "诉讼时效 三年 知道或者应当知道",
    "来得及": "诉讼时效 三年 知道或者应当知道",
    "时效": "诉讼时效 三年 知道或者应当知道",
    "打官司": "起诉 诉讼 管辖",
    "哪个法院": "管辖 第一审 侵权行为地 被告住所地 中级人民法院 知识产权法院",
    "哪个地方": "管辖 侵权行为地 被告住所地",
    "哪一级法院": "管辖 第一审 中级人民法院 知识产权法院",
    "所在地的法院": "管辖 侵权行为地 被告住所地 计算机终端等设备所在地",
    # contracts
    "不许": "限制",
    "指定的": "附带条件 限制 购买原材料 渠道",
    "搭售": "附带条件 购买非必需的 原材料",
    "改进": "改进的技术 后续改进 新的研究开发",
    "转许可": "许可第三人 再许可 许可约定以外的第三人",
    # crimes
    "坐牢": "有期徒刑 罚金 情节严重 构成犯罪",
    "判刑": "有期徒刑 罚金 情节严重 构成犯罪",
    "刑事责任": "有期徒刑 罚金 构成犯罪",
}

# Everyday vocabulary → the register statutes are written in: general words of any question (to sell,
# a court, an agency's new name), not the answer to one. Added to the query like EXPANSIONS, weighing less.
REGISTER = {
    # acts
    "卖": "销售", "出售": "销售", "售卖": "销售",
    "做出": "制造 完成", "造出": "制造",
    "用了": "使用", "拿来用": "使用", "在用": "使用",
    "改": "修改 改变 变更",
    "删": "删除", "删掉": "删除",
    "抄": "复制 剽窃", "照搬": "复制", "拷贝": "复制", "翻印": "复制",
    "偷": "盗窃 不正当手段 获取", "收买": "贿赂 不正当手段 获取",
    "透露": "披露", "泄密": "披露 保密义务", "外传": "披露",
    "研发": "研究开发 开发研制", "自主开发": "自行开发研制",
    "发到网上": "通过信息网络向公众提供", "网上": "信息网络", "互联网": "信息网络",
    "冻结": "保全", "查封": "保全 扣押", "扣下": "扣留", "扣押": "扣留",
    "取消": "撤销", "暂停": "中止", "停下": "中止 停止",
    "拒绝提供": "拒不提交", "不肯": "拒不 无正当理由", "交出": "提交 提供",
    "打上": "标明 标注", "印上": "标明 标注", "标上": "标明 标注",
    # persons and bodies
    "公司": "单位 法人 企业", "厂家": "制造者 单位", "老板": "经营者",
    "商家": "经营者", "店家": "经营者 销售者", "同行": "经营者 竞争", "顾客": "消费者 相关公众",
    "买家": "购买者", "卖家": "销售者", "员工": "职工 工作人员", "职员": "员工 职工",
    "家人": "继承人 近亲属", "子女": "继承人",
    "出版社": "出版者", "杂志社": "期刊社", "报纸": "报社", "电台": "广播电台",
    "歌手": "表演者", "演员": "表演者",
    "法院": "人民法院", "最高法": "最高人民法院", "最高法院": "最高人民法院",
    "高院": "高级人民法院", "中院": "中级人民法院",
    "市场监管": "工商行政管理部门", "工商局": "工商行政管理部门",
    "专利局": "国务院专利行政部门", "知识产权局": "国务院专利行政部门 商标局",
    "版权局": "著作权行政管理部门 著作权主管部门",
    # things
    "账本": "账簿 资料", "账目": "账簿", "钱": "费用 报酬 使用费",
    "稿费": "报酬", "版权费": "使用费 报酬", "授权费": "许可使用费", "许可费": "许可使用费",
    "押金": "担保", "保证金": "担保",
    "质押": "出质 质权", "抵押": "出质 质权",
    "立体": "三维标志", "造型": "形状 外观设计", "外形": "形状",
    "小说": "文字作品", "文章": "文字作品", "画": "美术作品", "视频": "视听作品",
    "署名": "署名权 表明作者身份", "产地": "地理标志 来源",
    # qualities, outcomes, procedure
    "一样": "相同", "一模一样": "相同", "很像": "近似 相似", "差不多": "近似",
    "搞混": "混淆 误认", "误以为": "误认 混淆",
    "假的": "虚假", "夸大": "引人误解 虚假",
    "赚": "获得的利益 违法所得", "亏": "损失",
    "赔": "赔偿", "罚": "罚款 处罚",
    "官司": "诉讼", "一审": "第一审", "二审": "第二审",
    "犯罪": "罪 有期徒刑 罚金",
    "多长时间": "期限 日内",
    "合伙": "共有 合作", "共同拥有": "共有", "一起": "共同 合作",
    "外包": "委托", "找人": "委托",
    "同意": "许可", "允许": "许可", "授权": "许可",
}

# BM25 parameters: a lower b than the usual 0.75 suits articles, whose length says little, and a lower
# k1 keeps one word repeated in a long article from outweighing several words of the question.
K1, B = 0.9, 0.6

# Query weights, relative to a bigram of the question: a single character, and the statutory wording
# the two tables add (EXPANSIONS names the situation, so it weighs more than REGISTER's vocabulary).
CHAR_WEIGHT = 0.35
EXPANSION_WEIGHT = 0.7
REGISTER_WEIGHT = 0.5

# Superseded texts (searched only on request) count for this fraction of their BM25 score.
HISTORY_WEIGHT = 0.5

CONTEXT_HEADER = "【参考条文】以下条文检索自离线法条库，按相关度排序，可能与问题无关；只引用确实适用的条文："


def tokenize(text: str) -> list[str]:
    """Character bigrams of each run of Chinese, plus ASCII words and numbers, lower-cased."""
    tokens: list[str] = []
    for m in _RUN_RE.finditer(text):
        run = m.group(0)
        if run.isascii():
            tokens.append(run.lower())
        elif len(run) == 1:
            tokens.append(run)
        else:
            tokens.extend(run[i:i + 2] for i in range(len(run) - 1))
    return tokens


def _characters(text: str) -> list[str]:
    """Every Chinese character of ``text``, marked so it never meets a lone-character token."""
    return ["#" + c for c in _HAN_RE.findall(text)]


def _query(question: str) -> dict[str, float]:
    """The weighted terms searched for ``question``: its own, then what the two tables add."""
    weights: dict[str, float] = {}
    parts = [(question, 1.0),
             *((words, EXPANSION_WEIGHT) for term, words in EXPANSIONS.items() if term in question),
             *((words, REGISTER_WEIGHT) for term, words in REGISTER.items() if term in question)]
    for text, weight in parts:
        for token in tokenize(text):
            weights[token] = weights.get(token, 0.0) + weight
        for char in _characters(text):
            weights[char] = weights.get(char, 0.0) + weight * CHAR_WEIGHT
    return weights


def _document(a: Article) -> str:
    return f"{short_title(a.law)} {a.chapter} {a.section} {a.text}"


class _Index:
    """bm25s over the articles' terms, scoring a query whose terms carry weights (bm25s weighs every
    query term 1, so each term is scored on its own and the scores are summed with their weights)."""

    def __init__(self, docs: list[list[str]]) -> None:
        self.retriever = bm25s.BM25(k1=K1, b=B)
        self.retriever.index(docs, show_progress=False)
        self.vocab = self.retriever.vocab_dict
        self.n = len(docs)

    def scores(self, query: dict[str, float]) -> np.ndarray:
        out = np.zeros(self.n, dtype=np.float64)
        for term, weight in query.items():
            if term in self.vocab:
                out += weight * np.asarray(self.retriever.get_scores([term]), dtype=np.float64)
        return out


# A retrieval index (BM25 terms of the store's articles), not a lookup: core.citations has no such thing.
_INDEXES: dict[tuple, _Index] = {}


def _index(articles: tuple[Article, ...]) -> _Index:
    """The BM25 index over ``articles``, built once per process and article set."""
    key = (id(store()), tuple(sorted({a.doc.key for a in articles})))
    if key not in _INDEXES:
        docs = [tokenize(text) + _characters(text) for text in map(_document, articles)]
        _INDEXES.clear()  # one article set at a time: the store changed or another day was asked
        _INDEXES[key] = _Index(docs)
    return _INDEXES[key]


def retrieve(question: str, k: int = 5, as_of: date | None = None,
             include_superseded: bool = False) -> list[tuple[Article, float]]:
    """The ``k`` articles most relevant to ``question`` with their scores, best first.

    Only texts in force on ``as_of`` (today) are searched; with ``include_superseded`` older texts
    are searched too, their scores scaled by ``HISTORY_WEIGHT`` so an old text ranks below an equally
    relevant current one, and the context labels them superseded. Articles the question cites come
    first, scored ``inf``; then BM25 order, ties in store order, so the result is deterministic. Articles sharing no token with
    the question never come.
    """
    if k <= 0:
        return []
    day = as_of or date.today()
    articles = all_articles() if include_superseded else current_articles(day)
    cited = [c.article for c in verify_citations(question, day) if c.article is not None]
    results = [(a, math.inf) for a in dict.fromkeys(cited)][:k]
    scores = _index(articles).scores(_query(question))
    if include_superseded:
        old = np.array([not a.doc.in_force_on(day) for a in articles], dtype=bool)
        scores = np.where(old, scores * HISTORY_WEIGHT, scores)
    for i in np.lexsort((np.arange(len(scores)), -scores)):
        if len(results) >= k or scores[i] <= 0:
            break
        if articles[i] not in cited:
            results.append((articles[i], float(scores[i])))
    return results


def label(article: Article, as_of: date | None = None) -> str:
    """``《法》（2020修正）第X条`` with its validity on ``as_of``: how the context and the sources name it."""
    return f"{cite_versioned(article)}〔{article.doc.validity(as_of or date.today())}〕"


def context_header(as_of: date | None = None) -> str:
    s, day = store(), as_of or date.today()
    return (f"{CONTEXT_HEADER}（法条库效力信息核对至{s.as_of.isoformat()}，"
            f"按{day.isoformat()}有效的版本检索；回答时写明所依据的版本）")


def format_context(results: list[tuple[Article, float]], as_of: date | None = None) -> str:
    """The block the client puts before the question: one ``《法》（版本）第X条〔效力〕：text`` per article."""
    if not results:
        return ""
    s = store()
    return "\n\n".join([context_header(as_of), *(f"{label(a, as_of)}：{a.text}{reference_note(a, s)}" for a, _ in results)])


def sources(results: list[tuple[Article, float]]) -> list[str]:
    """The retrieved articles as citations, to list under the answer."""
    return [cite(a) for a, _ in results]
