"""What an article is for: a rule to apply, or a text that only organises the law around it.

One reader serves both consumers of that question: build-qa gives an article that only states its
purpose, its entry into force, its relation to other texts, a transition or a department's competence
recitation pairs only (no case can be decided under it), and hardness takes points off it (it is not
rigid content to memorise). The patterns below are the defaults of HardnessConfig's role fields
(``purpose_patterns`` …), so ``ecmiip data hardness --config`` can change them for labelling.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_THIS_TEXT = "本(?:法|法典|条例|细则|规定|解释|办法|决定|批复)"

SUBSTANTIVE = "substantive"
EFFECTIVE_DATE = "effective_date"
SELF_REFERENTIAL = "self_referential"
TRANSITIONAL = "transitional"
PURPOSE = "purpose"
ORGANISATIONAL = "organisational"
#: Roles in the order they are tried: an article that says when it takes effect and that earlier
#: interpretations yield to it is an effective-date article first.
ROLES = (EFFECTIVE_DATE, SELF_REFERENTIAL, TRANSITIONAL, PURPOSE, ORGANISATIONAL)

#: The default patterns of each role (regular expressions on the article's whole text).
ROLE_PATTERNS: dict[str, tuple[str, ...]] = {
    EFFECTIVE_DATE: (
        rf"{_THIS_TEXT}(?:自|于)[^。；\n]{{0,30}}(?:施行|生效)",
    ),
    SELF_REFERENTIAL: (
        r"本院以前",
        rf"与{_THIS_TEXT}(?:规定)?不一致",
        rf"以{_THIS_TEXT}为准",
        r"同时(?:废止|失效)",
        r"解释权(?!利)",
        r"负责解释",
    ),
    TRANSITIONAL: (
        rf"{_THIS_TEXT}(?:施行|生效|作出|修改|修正)(?:前|以前|之前|时|后|以后|之日)",
        r"(?:修改|修正)(?:前|后)的《?[^。；，\n]{0,8}(?:法|条例|细则|规定|解释)",
        r"修改决定施行",
        # cases begun before the text or its court existed: not a pending criminal case (商业秘密规定第二十五条)
        r"(?:施行|成立|生效)(?:前|以前|之前)[^。；]{0,30}(?:审结|终审|受理)",
    ),
    PURPOSE: (
        r"^(?:为了?|根据|依据)[^。\n]{2,200}?(?:制定本|特制定)",
        rf"(?:为了|为)[^。\n]{{2,160}}制定{_THIS_TEXT}",
    ),
    ORGANISATIONAL: (
        r"^[^，。；]{2,40}(?:负责|主管|管理)[^，。；]{0,40}(?:工作|事务|事宜)[。；]",
        r"(?:部门|机关|机构|局|委员会|人民政府)(?:负责|主管)[^。；\n]{0,40}工作",
        r"负责[^。；\n]{0,30}(?:管理|监督|执法|审查)工作",
        r"为[^。；\n]{0,30}的(?:权力|执行|监督)机构",
        r"是[^。；\n]{0,30}(?:审判|常设|派出)[^。；\n]{0,6}机构",
    ),
}

#: Why a non-substantive article gets recitation pairs only: recorded in each pair's ``source``.
ROLE_REASONS = {
    EFFECTIVE_DATE: "施行日期条款：只讲本文件何时施行，回答以现行文本的版本和施行日期为准",
    SELF_REFERENTIAL: "自我指涉条款：讲本文件与其他文件的关系或解释权，不是可以适用于案件的规则",
    TRANSITIONAL: "过渡条款：讲新旧文本的适用衔接，依行为或案件的时间选择适用的文本",
    PURPOSE: "立法目的条款：讲制定目的和依据，不是可以适用于案件的规则",
    ORGANISATIONAL: "机构职责条款：讲哪个部门主管何种工作，不宜编成案例",
}


#: What an answer tells a reader about such an article (the reasons above are for the data's ``source``).
ROLE_NOTES = {
    EFFECTIVE_DATE: "施行日期条款：规定本文件何时施行",
    SELF_REFERENTIAL: "自我指涉条款：规定本文件与其他文件的关系或者由谁解释",
    TRANSITIONAL: "过渡与衔接条款：规定新旧规定或者制度交替、不同规定冲突时如何适用",
    PURPOSE: "立法目的和依据条款：说明制定本文件的目的或者依据",
    ORGANISATIONAL: "机构职责条款：规定哪个部门主管何种工作",
}


def article_roles(text: str, patterns: Mapping[str, tuple[str, ...]] = ROLE_PATTERNS) -> dict[str, str]:
    """{role: the first text that showed it} for every role whose patterns match, in ``ROLES`` order."""
    found = {}
    for role in ROLES:
        for pattern in patterns.get(role, ()):
            m = re.search(pattern, text)
            if m:
                found[role] = m.group(0)
                break
    return found
