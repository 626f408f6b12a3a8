"""Document templates for ``/draft``: the facts each document needs and how to ask the model for it.

A template lists its fields (what to ask the user, with an example answer: shown as a hint, never
used as a fact), a drafting instruction, and the articles the draft may rely on, each written with the
version it was checked against. The articles are named in the prompt because a small model recalls
article numbers badly; they are judged against the statute store on the day of drafting, so a
superseded article never reaches the prompt: it is replaced by today's article when the renumbering
is known, and otherwise the prompt names the law and asks for 【待核对】 instead of a number. A field
the user leaves blank becomes 【待填写】.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from ecmiip.core.citations import SUPERSEDED, cite_versioned, verify_citations


@dataclass(frozen=True)
class Field:
    name: str  # key of the values dict
    label: str  # how the prompt lists it
    prompt: str  # the question put to the user
    example: str


@dataclass(frozen=True)
class Template:
    name: str
    fields: tuple[Field, ...]
    instruction: str
    articles: tuple[tuple[str, str], ...]  # (《法律名》第X条, what it is about)


def _f(name: str, label: str, prompt: str, example: str) -> Field:
    return Field(name, label, prompt, example)


_DEADLINE = _f("deadline", "答复期限", "要求对方在多长时间内答复或履行？", "收到本函之日起7日内")
_DISPUTE = _f("dispute", "争议解决", "发生争议如何解决（哪个法院诉讼或哪个仲裁委员会仲裁）？",
              "提交许可方所在地有管辖权的人民法院诉讼解决")
_LICENSE_TYPE = _f("license_type", "许可类型", "许可类型是独占、排他还是普通许可？", "普通许可")

LAWYER_LETTER = Template(
    "律师函",
    (
        _f("client", "委托人（权利人）", "委托人（权利人）的名称或姓名是？", "北京星河文化传媒有限公司"),
        _f("law_firm", "律师事务所及承办律师", "发函的律师事务所和承办律师是？", "北京某某律师事务所 张某律师"),
        _f("recipient", "收函方", "收函方（涉嫌侵权人）的名称和地址是？", "上海某某贸易有限公司（上海市浦东新区某路1号）"),
        _f("right", "权利基础", "委托人享有什么知识产权？请写明权利类型、登记或注册号、有效期。",
           "第12345678号“星河”注册商标专用权，核定使用商品为第30类茶叶，有效期至2031年5月6日"),
        _f("facts", "侵权事实", "对方实施了什么行为？请写明时间、地点、产品或链接以及取证情况。",
           "2024年3月起，收函方在其网店销售标有“星河”字样的茶叶，委托人已于2024年4月10日公证购买"),
        _f("demands", "要求", "委托人要求对方做什么？", "立即停止销售侵权商品、下架相关链接、销毁库存，并赔偿经济损失10万元"),
        _DEADLINE,
        _f("contact", "联系方式", "对方应如何联系承办律师？", "张律师，电话010-12345678"),
    ),
    "以律师事务所名义、受委托人委托发出。结构：标题“律师函”、函号、收函方、委托关系、权利基础、侵权事实、"
    "法律分析（按权利类型只引用相应条文）、明确的要求、答复期限、逾期不履行的后果（依法提起诉讼或请求行政处理等）、"
    "承办律师签名、律师事务所盖章处、日期。语气正式、克制；事实以已有证据为限，不夸大，不作无依据的指控或威胁。",
    (
        ("《中华人民共和国民法典》第一百二十三条", "民事主体依法享有知识产权"),
        ("《中华人民共和国民法典》第一千一百八十五条", "故意侵害知识产权情节严重的惩罚性赔偿"),
        ("《中华人民共和国专利法》第十一条", "未经专利权人许可不得实施其专利"),
        ("《中华人民共和国专利法》第七十一条", "专利侵权的赔偿数额"),
        ("《中华人民共和国商标法》第五十七条", "侵犯注册商标专用权的行为"),
        ("《中华人民共和国商标法》第六十三条", "商标侵权的赔偿数额"),
        ("《中华人民共和国著作权法》第五十二条", "侵犯著作权的行为及民事责任"),
        ("《中华人民共和国著作权法》第五十四条", "著作权侵权的赔偿数额"),
        ("《中华人民共和国反不正当竞争法》（2019修正）第九条", "侵犯商业秘密的行为"),
        ("《中华人民共和国反不正当竞争法》（2019修正）第十七条", "不正当竞争的民事责任和赔偿数额"),
    ),
)

WARNING_LETTER = Template(
    "侵权警告函",
    (
        _f("right_holder", "权利人", "权利人（发函方）的名称或姓名是？", "深圳某某科技有限公司"),
        _f("recipient", "收函方", "收函方的名称和地址是？（制造者、销售者或平台）", "广州某某电子商行（广州市天河区某路2号）"),
        _f("right", "权利基础", "权利人享有什么权利？请写明专利号、注册号或登记号及有效期。",
           "ZL202010123456.7号发明专利“一种折叠支架”，专利权有效"),
        _f("accused", "被控侵权产品或行为", "被控侵权的产品或行为是什么？请写明型号、链接、购买或取证情况。",
           "收函方在其网店销售的型号为X1的折叠支架，权利人已于2024年5月8日公证购买"),
        _f("comparison", "侵权比对要点", "被控侵权产品与权利的相同或近似之处是什么？",
           "X1支架具备该专利权利要求1记载的全部技术特征"),
        _f("demands", "要求", "要求收函方做什么？", "立即停止制造、销售X1支架，下架相关链接，并告知进货来源"),
        _DEADLINE,
        _f("contact", "联系方式", "收函方应如何联系权利人？", "法务部李某，电话0755-12345678"),
    ),
    "以权利人名义发出。写明：权利人及权利基础（权利证书编号、法律状态）、被控侵权产品或行为的具体信息、"
    "侵权比对要点、法律依据、具体要求与期限、联系方式。警告必须有事实依据并指向具体的产品和权利；"
    "向对方的客户、经销商或平台发函时尤其不得编造、传播虚假或者误导性信息，否则可能构成商业诋毁"
    "（反不正当竞争法关于商业诋毁的规定）。对销售者可以要求其说明并提供合法来源。",
    (
        ("《中华人民共和国专利法》第十一条", "未经专利权人许可不得实施其专利"),
        ("《中华人民共和国专利法》第六十四条", "专利权的保护范围以权利要求的内容为准"),
        ("《中华人民共和国专利法》第七十七条", "销售者能证明合法来源的不承担赔偿责任"),
        ("《中华人民共和国商标法》第五十七条", "侵犯注册商标专用权的行为"),
        ("《中华人民共和国商标法》第六十四条", "未使用抗辩与销售者的合法来源抗辩"),
        ("《中华人民共和国著作权法》第五十二条", "侵犯著作权的行为及民事责任"),
        ("《中华人民共和国反不正当竞争法》（2019修正）第十一条", "不得编造、传播虚假或者误导性信息损害竞争对手商誉"),
    ),
)

COPYRIGHT_LICENSE = Template(
    "著作权许可合同",
    (
        _f("licensor", "许可方（著作权人）", "许可方（著作权人）的名称或姓名是？", "杭州某某影视文化有限公司"),
        _f("licensee", "被许可方", "被许可方的名称或姓名是？", "北京某某网络科技有限公司"),
        _f("work", "作品", "许可使用的作品名称、类型和著作权登记号（如有）是？", "电视剧《山海行》（共40集），国作登字-2023-I-00001234"),
        _f("rights", "许可的权利种类", "许可哪些权利（如复制权、发行权、信息网络传播权）？", "信息网络传播权"),
        _f("exclusivity", "专有或非专有", "许可的是专有使用权还是非专有使用权？", "专有使用权，被许可方不得转授权"),
        _f("scope", "地域范围和期间", "许可的地域范围和期间是？", "中国大陆地区，自2025年1月1日起三年"),
        _f("fee", "付酬标准和办法", "许可使用费多少，如何支付？", "许可费共计300万元，合同签订后10日内支付50%，作品上线后10日内支付余款"),
        _DISPUTE,
    ),
    "起草完整的著作权许可使用合同，至少包括：鉴于条款、定义、许可的作品与权利种类、专有或非专有使用权、"
    "地域范围与期间、转授权限制、付酬标准与支付方式、作品交付与权利瑕疵担保、署名与保护作品完整、"
    "未明确许可的权利由著作权人保留、保密、违约责任、合同解除、争议解决、生效及其他条款、签署页。"
    "专有使用权的许可应采用书面形式，并提示可以向著作权行政管理部门备案。",
    (
        ("《中华人民共和国著作权法》第十条", "著作权包括的人身权和财产权"),
        ("《中华人民共和国著作权法》第二十六条", "许可使用合同的主要内容"),
        ("《中华人民共和国著作权法》第二十九条", "未明确许可的权利不得行使"),
        ("《中华人民共和国著作权法》第三十条", "付酬标准"),
        ("《中华人民共和国著作权法实施条例》第二十三条", "专有使用权的许可应当采取书面形式"),
        ("《中华人民共和国著作权法实施条例》第二十四条", "专有使用权的内容"),
        ("《中华人民共和国著作权法实施条例》第二十五条", "专有许可使用合同可以备案"),
    ),
)

TRADEMARK_LICENSE = Template(
    "商标许可合同",
    (
        _f("licensor", "许可方（商标注册人）", "许可方（商标注册人）的名称是？", "福建某某茶业有限公司"),
        _f("licensee", "被许可方", "被许可方的名称是？", "厦门某某食品有限公司"),
        _f("trademark", "注册商标", "商标的注册号、文字或图形以及核定使用的类别是？", "第23456789号“云岭”文字商标，核定使用商品第30类"),
        _f("goods", "许可使用的商品或服务", "许可在哪些商品或服务上使用？", "茶叶、茶饮料"),
        _LICENSE_TYPE,
        _f("scope", "地域范围和期限", "许可的地域范围和期限是？", "福建省，自2025年3月1日至2028年2月28日"),
        _f("fee", "许可使用费", "许可使用费多少，如何支付？", "每年20万元，每年3月10日前支付当年费用"),
        _f("quality", "质量监督", "许可方如何监督商品质量？", "被许可方每季度送样检验，许可方可以随时抽检"),
        _DISPUTE,
    ),
    "起草完整的注册商标使用许可合同，至少包括：许可的商标及注册号、许可类型（独占、排他或普通，并写明其含义）、"
    "许可使用的商品或服务（不得超出核定使用的商品或服务）、地域与期限（不超过注册商标的有效期）、许可使用费、"
    "质量标准与监督、在商品上标明被许可人名称和商品产地的义务、备案（由许可方报商标局备案；未经备案不得对抗善意第三人）、"
    "维权分工与被许可人的诉讼地位、转许可限制、违约责任、合同终止后库存和标识的处理、争议解决、签署页。",
    (
        ("《中华人民共和国商标法》第四十三条", "商标使用许可：质量监督、标明被许可人名称和产地、备案"),
        ("《中华人民共和国商标法》第五十六条", "注册商标专用权以核准注册的商标和核定使用的商品为限"),
        ("《中华人民共和国商标法实施条例》第六十九条", "许可备案及备案材料"),
        ("《最高人民法院关于审理商标民事纠纷案件适用法律若干问题的解释》第三条", "独占、排他、普通使用许可"),
        ("《最高人民法院关于审理商标民事纠纷案件适用法律若干问题的解释》第四条", "被许可人的诉讼地位"),
        ("《最高人民法院关于审理商标民事纠纷案件适用法律若干问题的解释》第十九条", "未经备案不影响许可合同的效力"),
    ),
)

NDA = Template(
    "保密协议",
    (
        _f("discloser", "披露方", "披露保密信息的一方是？", "上海某某生物技术有限公司"),
        _f("recipient", "接收方", "接收保密信息的一方是？", "苏州某某医药研究有限公司"),
        _f("purpose", "披露目的", "为什么披露这些信息（合作项目或用途）？", "双方洽谈某抗体药物的委托研发合作"),
        _f("scope", "保密信息范围", "哪些信息需要保密？", "细胞株构建方法、工艺参数、实验数据、客户和报价信息"),
        _f("term", "保密期限", "保密义务持续多长时间？", "自本协议签订之日起至相关信息依法公开之日止，且不少于五年"),
        _f("liquidated", "违约金", "违约金的数额或计算方法是？", "每次违约支付违约金50万元，损失超过违约金的，赔偿实际损失"),
        _f("dispute", "争议解决", "发生争议如何解决？", "提交上海国际仲裁中心仲裁"),
    ),
    "起草完整的保密协议，至少包括：保密信息的定义与范围（技术信息、经营信息及其标注方式）、不属于保密信息的例外"
    "（已公开、接收方已合法知悉、独立开发、依法被要求披露）、仅为约定目的使用、保密措施、可接触人员的范围及其保密义务、"
    "资料的返还与销毁、保密期限（合作结束后继续有效）、知识产权不因披露而转移、违约责任与违约金、争议解决、签署页。",
    (
        ("《中华人民共和国反不正当竞争法》（2019修正）第九条", "侵犯商业秘密的行为和商业秘密的定义"),
        ("《中华人民共和国民法典》第五百零一条", "订立合同过程中知悉的商业秘密不得泄露或者不正当使用"),
        ("《最高人民法院关于审理侵犯商业秘密民事案件适用法律若干问题的规定》第一条", "技术信息和经营信息"),
        ("《最高人民法院关于审理侵犯商业秘密民事案件适用法律若干问题的规定》第五条", "相应保密措施"),
        ("《最高人民法院关于审理侵犯商业秘密民事案件适用法律若干问题的规定》第六条", "签订保密协议属于保密措施"),
        ("《最高人民法院关于审理侵犯商业秘密民事案件适用法律若干问题的规定》第十条", "合同约定的保密义务"),
    ),
)

PATENT_LICENSE = Template(
    "专利实施许可合同",
    (
        _f("licensor", "许可方（专利权人）", "许可方（专利权人）的名称是？", "南京某某机械有限公司"),
        _f("licensee", "被许可方", "被许可方的名称是？", "无锡某某制造有限公司"),
        _f("patent", "专利", "专利号、名称、类型和有效期是？", "ZL201910654321.0号发明专利“一种自动焊接装置”，有效期至2039年7月30日"),
        _f("acts", "许可实施的行为", "许可哪些实施行为（制造、使用、许诺销售、销售、进口）？", "制造、使用、销售"),
        _LICENSE_TYPE,
        _f("scope", "地域范围和期限", "许可的地域范围和期限是？", "中国大陆地区，自2025年1月1日起五年"),
        _f("fee", "使用费", "使用费如何计算和支付（入门费、提成或一次性付费）？", "入门费30万元，另按净销售额的3%按年提成"),
        _f("improvements", "后续改进", "后续改进的技术成果归谁，如何分享？", "各自改进的成果归改进方，对方享有优先受让权"),
        _DISPUTE,
    ),
    "起草完整的专利实施许可合同，至少包括：专利的基本情况（专利号、类型、法律状态、有效期）、许可类型（独占、排他或普通）、"
    "许可实施的行为和范围、地域和期限（不超过专利权的存续期限，并约定专利权被宣告无效时的处理）、技术资料的交付与技术指导、"
    "使用费及支付方式、后续改进成果的归属与分享、第三人侵权的处理、许可方的权利担保、保密、合同备案"
    "（自合同生效之日起3个月内向国务院专利行政部门备案）、违约责任、争议解决、签署页。不得约定限制技术竞争和技术发展的条款。",
    (
        ("《中华人民共和国专利法》第十二条", "实施他人专利应当订立实施许可合同"),
        ("《中华人民共和国民法典》第八百六十三条", "技术许可合同包括专利实施许可合同"),
        ("《中华人民共和国民法典》第八百六十四条", "不得限制技术竞争和技术发展"),
        ("《中华人民共和国民法典》第八百六十五条", "专利实施许可合同仅在专利权存续期限内有效"),
        ("《中华人民共和国民法典》第八百六十六条", "许可人的义务"),
        ("《中华人民共和国民法典》第八百六十七条", "被许可人的义务"),
        ("《中华人民共和国民法典》第八百七十五条", "后续改进技术成果的分享"),
        ("《中华人民共和国专利法实施细则》第十五条", "专利实施许可合同的备案"),
    ),
)

#: ``/draft`` templates by name.
TEMPLATES: dict[str, Template] = {
    t.name: t for t in (LAWYER_LETTER, WARNING_LETTER, COPYRIGHT_LICENSE, TRADEMARK_LICENSE, NDA, PATENT_LICENSE)
}


def _given(values: Mapping[str, str], name: str) -> str:
    value = values.get(name)
    return value.strip() if isinstance(value, str) else ""


def missing_fields(template: Template, given: Mapping[str, str]) -> list[Field]:
    """The template's fields ``given`` lacks or leaves blank, in the template's order."""
    return [f for f in template.fields if not _given(given, f.name)]


BLANK = "【待填写】"


def usable_articles(template: Template, as_of: date | None = None) -> tuple[list[str], list[str]]:
    """The template's articles as they stand on ``as_of``: lines for the articles in force (a superseded
    one replaced by today's when the renumbering is known), and notes for laws whose current text
    the store lacks, written without an article number so no stale number reaches the model."""
    lines, notes = [], []
    for citation, about in template.articles:
        [verdict] = verify_citations(citation, as_of)
        if verdict.ok:
            lines.append(f"- {cite_versioned(verdict.article)}（{about}）")
        elif verdict.status == SUPERSEDED and verdict.current is not None:
            lines.append(f"- {cite_versioned(verdict.current)}（{about}）")
        elif verdict.doc is not None:
            doc = verdict.doc
            newer = f"已由{doc.superseded_by.version}取代" if doc.superseded_by else "已失效"
            notes.append(f"- {about}：《{doc.law}》{doc.version}文本{newer}，离线法条库未收录现行文本；"
                         f"引用时只写法律名称，条号写{BLANK.replace('填写', '核对')}")
    return lines, notes


def draft_prompt(template: Template, values: Mapping[str, str], as_of: date | None = None) -> str:
    """The user message asking the model to draft ``template`` from ``values``; a field not given is
    marked 【待填写】 (never filled with the example)."""
    known = {f.name for f in template.fields}
    facts = [f"- {f.label}：{_given(values, f.name) or BLANK}" for f in template.fields]
    facts += [f"- {name}：{_given(values, name)}" for name in values if name not in known and _given(values, name)]
    laws, notes = usable_articles(template, as_of)
    return "\n".join([
        f"请起草一份{template.name}。",
        "",
        "【已知信息】",
        *facts,
        "",
        "【起草要求】",
        template.instruction,
        "",
        "【可以引用的法条】以下条文均已在离线法条库中核对，在起草之日现行有效；只引用确实适用的条文，"
        "格式为《法律名》第X条，不要引用你不确定是否存在的条文：",
        *laws,
        *(["", "【注意】以下法律已经修订，离线法条库没有现行条文：", *notes] if notes else []),
        "",
        f"只使用上面提供的事实；标为{BLANK}或缺少的信息在文书中用{BLANK}标出，不要编造事实、金额、日期、证据或案号。",
    ])
