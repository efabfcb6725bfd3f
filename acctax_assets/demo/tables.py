"""The constant data the demo ledger is drawn from: chart of accounts, payment modes, client companies,
counterparty categories and booking scenarios. Kept apart from the generator so the tables (long, and edited
for realism) can be read and changed without wading through the vectorised logic; checked against the data
contract in `ledger/schema.py` at import."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from acctax_assets.ledger.schema import DOCUMENT_TYPES, DR_CR, KOREAN_HEADERS, TAXPAYER_TYPES, VAT_TYPES

WRITER_COLUMN = "작성자"
REMARK_COLUMN = "비고"
# Columns a real export carries that the column map does not know; readers must keep and report them.
EXTRA_COLUMNS: tuple[str, ...] = (WRITER_COLUMN, REMARK_COLUMN)
DEMO_COLUMNS: tuple[str, ...] = (*KOREAN_HEADERS.values(), *EXTRA_COLUMNS)

DEFECT_KINDS: tuple[str, ...] = (
    "duplicate",
    "missing_date",
    "missing_label",
    "invalid_amount",
    "invalid_date",
    "date_outside_month",
    "outlier",
    "amount_mismatch",
    "invalid_label",
)
DIRTY_SHARE = 0.02
LABEL_NOISE_SHARE = 0.03
RETURN_SHARE = 0.01
# Below this many rows a month cannot carry every defect kind at a realistic ~2 % share.
ALL_DEFECTS_MIN_ROWS = 500

CHART_OF_ACCOUNTS: dict[str, str] = {
    "14600": "상품",
    "15300": "원재료",
    "16200": "부재료",
    "20600": "기계장치",
    "20800": "차량운반구",
    "21200": "비품",
    "22700": "소프트웨어",
    "40100": "상품매출",
    "40400": "제품매출",
    "41200": "용역매출",
    "51100": "복리후생비(제조)",
    "51200": "여비교통비(제조)",
    "51400": "통신비(제조)",
    "51500": "가스수도료(제조)",
    "51600": "전력비(제조)",
    "51900": "지급임차료(제조)",
    "52000": "수선비(제조)",
    "52100": "보험료(제조)",
    "52200": "차량유지비(제조)",
    "52400": "운반비(제조)",
    "53000": "소모품비(제조)",
    "53100": "지급수수료(제조)",
    "53300": "외주가공비(제조)",
    "81100": "복리후생비",
    "81200": "여비교통비",
    "81300": "접대비(기업업무추진비)",
    "81400": "통신비",
    "81500": "수도광열비",
    "81600": "전력비",
    "81700": "세금과공과금",
    "81900": "지급임차료",
    "82000": "수선비",
    "82100": "보험료",
    "82200": "차량유지비",
    "82300": "경상연구개발비",
    "82400": "운반비",
    "82500": "교육훈련비",
    "82600": "도서인쇄비",
    "82700": "회의비",
    "82800": "포장비",
    "82900": "사무용품비",
    "83000": "소모품비",
    "83100": "지급수수료",
    "83200": "보관료",
    "83300": "광고선전비",
    "83400": "판매촉진비",
    "83700": "건물관리비",
    "83800": "수출제비용",
    "83900": "판매수수료",
    "84200": "견본비",
    "84800": "잡비",
}

# Codes a client started to use later: they must not occur in any earlier month ("new codes appear over time").
CODE_START_MONTH: dict[str, str] = {
    "83400": "2024-07",
    "84200": "2024-07",
    "22700": "2024-07",
    "83200": "2024-09",
    "51500": "2024-09",
    "82300": "2024-09",
    "83800": "2024-11",
    "83900": "2024-11",
    "16200": "2024-11",
}

# SG&A code -> its manufacturing-cost twin, and how often a manufacturer books that cost to the factory.
MANUFACTURING_TWINS: dict[str, tuple[str, float]] = {
    "81100": ("51100", 0.45),
    "81200": ("51200", 0.12),
    "81400": ("51400", 0.10),
    "81500": ("51500", 0.60),
    "81600": ("51600", 0.80),
    "81900": ("51900", 0.20),
    "82000": ("52000", 0.50),
    "82100": ("52100", 0.12),
    "82200": ("52200", 0.40),
    "82400": ("52400", 0.50),
    "83000": ("53000", 0.50),
    "83100": ("53100", 0.08),
}

# Accounts a clerk plausibly confuses; label noise only ever swaps within these.
RELATED_ACCOUNTS: dict[str, tuple[str, ...]] = {
    "81100": ("81300", "82700", "81200"),
    "81200": ("82200", "81100"),
    "81300": ("81100", "82700", "83300"),
    "81400": ("83100",),
    "81500": ("81600", "83700"),
    "81600": ("81500",),
    "81700": ("83100", "82100"),
    "81900": ("83700",),
    "82000": ("82200", "83000"),
    "82100": ("81700",),
    "82200": ("81200", "82000"),
    "82300": ("83100",),
    "82400": ("82800", "83100"),
    "82500": ("83100",),
    "82600": ("82900", "83300"),
    "82700": ("81100", "81300"),
    "82800": ("82400", "83000"),
    "82900": ("83000", "82600"),
    "83000": ("82900", "21200"),
    "83100": ("82400", "81400"),
    "83200": ("82400",),
    "83300": ("83400", "82600"),
    "83400": ("83300",),
    "83700": ("81900", "81500"),
    "83800": ("82400",),
    "83900": ("83100",),
    "84200": ("83400",),
    "84800": ("83000",),
    "14600": ("15300",),
    "15300": ("14600", "16200"),
    "16200": ("15300",),
    "20600": ("21200",),
    "20800": ("82200",),
    "21200": ("83000",),
    "22700": ("83100",),
    "40100": ("40400",),
    "40400": ("40100",),
    "41200": ("40100",),
    "51100": ("81100",),
    "51200": ("81200",),
    "51400": ("81400",),
    "51500": ("51600",),
    "51600": ("81600",),
    "51900": ("81900",),
    "52000": ("52200",),
    "52100": ("82100",),
    "52200": ("82200",),
    "52400": ("82400",),
    "53000": ("83000", "51100"),
    "53100": ("83100",),
    "53300": ("53000", "15300"),
}

CODES: tuple[str, ...] = tuple(CHART_OF_ACCOUNTS)
CODE_INDEX: dict[str, int] = {code: i for i, code in enumerate(CODES)}

# ---------------------------------------------------------------------------------------------------------
# Payment modes: each decides the VAT type, the evidence code and whether 10 % VAT applies.
# (vat type, usual evidence, other evidence, share of the other evidence, taxable)
MODES: tuple[tuple[str, str, str, float, bool], ...] = (
    ("51", "10", "10", 0.0, True),  # 0 tax invoice
    ("57", "20", "21", 0.15, True),  # 1 card
    ("61", "31", "30", 0.25, True),  # 2 cash receipt
    ("53", "11", "11", 0.0, False),  # 3 exempt invoice (계산서)
    ("58", "20", "21", 0.15, False),  # 4 card, exempt goods
    ("62", "31", "30", 0.25, False),  # 5 cash receipt, exempt goods
    ("53", "40", "40", 0.0, False),  # 6 simple receipt from a simplified taxpayer
    ("53", "50", "50", 0.0, False),  # 7 no evidence (taxes, bank fees)
    ("11", "10", "10", 0.0, True),  # 8 sales tax invoice
    ("17", "20", "20", 0.0, True),  # 9 card sales
    ("22", "30", "32", 0.1, True),  # 10 cash-receipt sales
    ("16", "50", "50", 0.0, False),  # 11 export
    ("12", "10", "10", 0.0, False),  # 12 zero-rated (local L/C)
    ("13", "11", "11", 0.0, False),  # 13 exempt sales invoice
    ("18", "20", "20", 0.0, False),  # 14 exempt card sales
    ("13", "30", "30", 0.0, False),  # 15 exempt cash sales
)
INVOICE, CARD, CASH, EX_INVOICE, EX_CARD, EX_CASH, SIMPLE, NO_EVIDENCE = range(8)
S_INVOICE, S_CARD, S_CASH, S_EXPORT, S_ZERO, S_EXEMPT, S_EXEMPT_CARD, S_EXEMPT_CASH = range(8, 16)
N_MODES = len(MODES)
SALES_MODES = frozenset(range(8, 16))
# Purchases from a simplified taxpayer carry no deductible VAT.
SIMPLIFIED_PARTY_MODE = np.arange(N_MODES)
SIMPLIFIED_PARTY_MODE[[INVOICE, CARD, CASH]] = [SIMPLE, EX_CARD, EX_CASH]
# Sales of an exempt or simplified client company are written without VAT.
VAT_FREE_COMPANY_MODE = np.arange(N_MODES)
VAT_FREE_COMPANY_MODE[[S_INVOICE, S_CARD, S_CASH]] = [S_EXEMPT, S_EXEMPT_CARD, S_EXEMPT_CASH]
ENTERTAINMENT_CODE = "81300"
NON_DEDUCTIBLE_VAT_TYPE = "54"

MFG, WHOLESALE, RESTAURANT, SERVICE = "manufacturing", "wholesale", "restaurant", "service"
CONSTRUCTION = "construction"
SECTORS: tuple[str, ...] = (MFG, WHOLESALE, RESTAURANT, SERVICE, CONSTRUCTION)
_ALL = SECTORS
_NOT_RESTAURANT = (MFG, WHOLESALE, SERVICE, CONSTRUCTION)

# How much more (or less) often a sector books a code than the base weight says.
SECTOR_CODE_MULTIPLIER: dict[str, dict[str, float]] = {
    MFG: {"14600": 0.2, "40100": 0.25, "15300": 2.0, "82800": 1.5, "82400": 1.5},
    WHOLESALE: {"14600": 3.0, "82400": 2.0, "82800": 2.0, "83900": 3.0, "83300": 1.5},
    RESTAURANT: {"15300": 2.5, "81300": 0.3, "82500": 0.3, "83300": 0.5, "81100": 0.6},
    SERVICE: {"83100": 2.0, "81400": 1.5, "82500": 2.0, "22700": 2.0, "14600": 0.1, "83300": 1.5},
    CONSTRUCTION: {"15300": 1.5, "82200": 1.5, "82000": 0.5, "14600": 0.1},
}

MEMO_TEAMS: tuple[str, ...] = ("영업팀 ", "관리팀 ", "개발팀 ", "총무팀 ", "마케팅팀 ", "기술팀 ")
FACTORY_PREFIXES: tuple[str, ...] = ("공장 ", "생산라인 ", "제조현장 ", "생산팀 ")
HEAD_OFFICE_PREFIX = "본사 "
RETURN_WORDS: tuple[str, ...] = ("반품", "취소", "카드취소", "매입취소")
REMARKS: tuple[str, ...] = (
    "법인카드",
    "개인카드 정산",
    "확인 필요",
    "증빙 추후 수령",
    "대표이사 사용",
    "월말 정산",
    "전기 누락분",
)
CLERKS: tuple[str, ...] = ("김지은", "박민수", "이서연", "최현우", "정수빈", "강다은", "윤재혁", "한소희")
INVALID_AMOUNTS: tuple[str, ...] = ("abc", "12a,000", "1.2.3", "--500", "1,2O0", "금액오류")
INVALID_LABELS: tuple[str, ...] = ("8110", "A1100", "811000", "8110O", "81I00", "5300")


# ---------------------------------------------------------------------------------------------------------
# Client companies, counterparties by category, and booking scenarios.


@dataclass(frozen=True)
class Company:
    name: str
    sector: str
    business_type: str
    business_item: str
    taxpayer_type: str
    weight: float


COMPANIES: tuple[Company, ...] = (
    Company("(주)한결정밀", MFG, "제조업", "금속가공", "1", 8),
    Company("(주)대원산업", MFG, "제조업", "플라스틱 사출", "1", 6),
    Company("세진테크(주)", MFG, "제조업", "전자부품", "1", 6),
    Company("동해금속(주)", MFG, "제조업", "자동차부품", "1", 5),
    Company("(주)가온케미칼", MFG, "제조업", "화학제품", "1", 3),
    Company("다온푸드", RESTAURANT, "음식점업", "한식", "1", 5),
    Company("카페온담", RESTAURANT, "음식점업", "커피전문점", "2", 2),
    Company("미소분식", RESTAURANT, "음식점업", "분식", "2", 2),
    Company("(주)정담에프앤비", RESTAURANT, "음식점업", "일식", "1", 2),
    Company("(주)한빛전자유통", WHOLESALE, "도소매", "전자부품", "1", 7),
    Company("누리상사", WHOLESALE, "도소매", "생활용품", "1", 4),
    Company("(주)그린마켓", WHOLESALE, "도소매", "식자재", "1", 4),
    Company("오름스포츠", WHOLESALE, "소매업", "스포츠용품", "1", 3),
    Company("(주)코드웨이브", SERVICE, "서비스", "소프트웨어개발", "1", 6),
    Company("브릿지컨설팅", SERVICE, "서비스", "경영컨설팅", "1", 2),
    Company("(주)디자인모아", SERVICE, "서비스", "광고디자인", "1", 3),
    Company("새봄학원", SERVICE, "교육서비스", "입시학원", "3", 2),
    Company("바른물류(주)", SERVICE, "운수업", "화물운송", "1", 3),
    Company("(주)태평건설", CONSTRUCTION, "건설업", "실내인테리어", "1", 4),
    Company("한솔종합건설(주)", CONSTRUCTION, "건설업", "토목공사", "1", 3),
)

_BRANCHES: tuple[str, ...] = (
    "강남", "역삼", "선릉", "삼성", "서초", "교대", "양재", "판교", "분당정자", "여의도", "종로", "광화문",
    "을지로", "시청", "홍대", "합정", "성수", "건대", "잠실", "송파", "목동", "영등포", "구로디지털",
    "가산디지털", "마곡", "상암", "일산", "부천", "인천송도", "수원역", "동탄", "평택", "안산", "시화",
    "천안", "청주", "대전둔산", "대구동성로", "부산서면", "해운대", "울산", "창원", "광주상무", "전주", "제주",
)
_FIRM_PREFIXES: tuple[str, ...] = (
    "대한", "한빛", "동양", "삼진", "세명", "우진", "태성", "신영", "대성", "일진", "경원", "한일", "제일",
    "동아", "성원", "미래", "새한", "광명", "보성", "영신", "삼화", "유진", "정우", "금강", "태양", "청솔",
    "은성", "대림", "동진", "중앙", "에이스", "하나", "늘푸른", "한울", "가람", "다솔", "서광", "진영",
)
_SURNAMES: tuple[str, ...] = ("김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오", "서", "신", "권")
_GIVEN_NAMES: tuple[str, ...] = (
    "영수", "미경", "정호", "순자", "상철", "은주", "동현", "혜진", "성민", "지훈", "수정", "광수", "경희", "재원",
)
_RESTAURANT_PREFIXES: tuple[str, ...] = (
    "할매", "원조", "명동", "옛날", "신촌", "전주", "진미", "고향", "서울", "행복한", "착한", "토담", "소문난",
    "장수", "우리", "청기와", "남도", "강릉", "봉평", "마포", "황금", "한마음",
)
_RESTAURANT_CORES: tuple[tuple[str, str], ...] = (
    ("순대국", "한식"), ("칼국수", "한식"), ("김밥", "분식"), ("삼겹살", "한식"), ("냉면", "한식"),
    ("설렁탕", "한식"), ("돈까스", "일식"), ("짬뽕", "중식"), ("한정식", "한식"), ("곱창", "한식"),
    ("보쌈", "한식"), ("부대찌개", "한식"), ("쌀국수", "기타 외국식"), ("초밥", "일식"), ("감자탕", "한식"),
    ("중화요리", "중식"), ("닭갈비", "한식"), ("해장국", "한식"), ("생선구이", "한식"), ("파스타", "양식"),
    ("우동", "일식"), ("갈비", "한식"), ("떡볶이", "분식"), ("샤브샤브", "한식"), ("막국수", "한식"),
)
_RESTAURANT_SUFFIXES: tuple[str, ...] = ("", "집", "식당", " 본점", "관", " 2호점")


@dataclass(frozen=True)
class Category:
    """A kind of counterparty: who they are, what they are registered as, how they are usually paid."""

    parties: tuple[tuple[str, str], ...]  # (name, 종목)
    business_type: str
    modes: dict[int, float]
    id_kind: str = "mixed"  # corp | mixed | public | none
    simplified_share: float = 0.0


def _branches(brands: Sequence[tuple[str, str]], per_brand: int, rng: np.random.Generator, fmt: str = "{b} {x}점"):
    """Chain stores: brand + branch name, a few branches per brand."""
    out: list[tuple[str, str]] = []
    for brand, item in brands:
        for branch in rng.choice(_BRANCHES, size=per_brand, replace=False):
            out.append((fmt.format(b=brand, x=branch), item))
    return out


def _firms(suffixes: Sequence[tuple[str, str]], count: int, rng: np.random.Generator, corp_share: float = 0.5):
    """Small and mid-sized firms: a name part + a trade word, some of them incorporated."""
    out: dict[str, str] = {}
    while len(out) < count:
        prefix = str(rng.choice(_FIRM_PREFIXES))
        suffix, item = suffixes[int(rng.integers(len(suffixes)))]
        name = f"{prefix}{suffix}"
        if rng.random() < corp_share:
            name = f"(주){name}" if rng.random() < 0.6 else f"{name}(주)"
        out.setdefault(name, item)
    return list(out.items())


def _restaurants(count: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """Independent restaurants from name parts plus a few chains."""
    out: dict[str, str] = {}
    while len(out) < count:
        core, item = _RESTAURANT_CORES[int(rng.integers(len(_RESTAURANT_CORES)))]
        name = f"{rng.choice(_RESTAURANT_PREFIXES)}{core}{rng.choice(_RESTAURANT_SUFFIXES)}"
        out.setdefault(name, item)
    chains = (("본죽", "한식"), ("한솥도시락", "한식"), ("김밥천국", "분식"), ("맥도날드", "패스트푸드"), ("BBQ치킨", "치킨"))
    return [*out.items(), *_branches(chains, 3, rng)]


def _person_names(count: int, rng: np.random.Generator) -> list[str]:
    out: set[str] = set()
    while len(out) < count:
        out.add(f"{rng.choice(_SURNAMES)}{rng.choice(_GIVEN_NAMES)}")
    return sorted(out)


def draw_categories(rng: np.random.Generator) -> dict[str, Category]:
    """All counterparty categories; names are drawn once from the fixed world seed."""
    card_heavy = {CARD: 0.78, CASH: 0.14, INVOICE: 0.08}
    exempt = {EX_INVOICE: 0.5, EX_CARD: 0.4, EX_CASH: 0.1}
    people = _person_names(30, rng)
    return {
        "restaurant": Category(tuple(_restaurants(130, rng)), "음식점업", card_heavy, "mixed", 0.25),
        "cafe": Category(
            tuple(
                _branches(
                    (("스타벅스", "커피전문점"), ("이디야커피", "커피전문점"), ("투썸플레이스", "커피전문점"),
                     ("메가MGC커피", "커피전문점"), ("빽다방", "커피전문점"), ("파리바게뜨", "제과점"),
                     ("뚜레쥬르", "제과점")),
                    5, rng,
                )
            ),
            "음식점업", {CARD: 0.85, CASH: 0.15}, "mixed", 0.1,
        ),
        "convenience": Category(
            tuple(_branches((("GS25", "편의점"), ("CU", "편의점"), ("세븐일레븐", "편의점"), ("이마트24", "편의점")), 7, rng)),
            "소매업", {CARD: 0.8, CASH: 0.2},
        ),
        "mart": Category(
            tuple(
                _branches(
                    (("이마트", "대형마트"), ("홈플러스", "대형마트"), ("롯데마트", "대형마트"), ("코스트코", "창고형 할인점"),
                     ("다이소", "생활용품"), ("하나로마트", "식료품")),
                    3, rng,
                )
            ),
            "소매업", {CARD: 0.85, CASH: 0.1, INVOICE: 0.05},
        ),
        "online": Category(
            (("쿠팡(주)", "전자상거래"), ("(주)지마켓", "전자상거래"), ("11번가(주)", "전자상거래"),
             ("(주)에스에스지닷컴", "전자상거래"), ("(주)위메프", "전자상거래"), ("롯데쇼핑(주) 롯데온", "전자상거래"),
             ("네이버파이낸셜(주)", "전자지급결제")),
            "소매업", {CARD: 0.75, INVOICE: 0.2, CASH: 0.05}, "corp",
        ),
        "stationery": Category(
            (*_branches((("알파문구", "문구"), ("모닝글로리", "문구")), 4, rng),
             *_firms((("문구", "문구"), ("오피스", "사무용품")), 8, rng, 0.3)),
            "소매업", {CARD: 0.7, CASH: 0.15, INVOICE: 0.15},
        ),
        "gas_station": Category(
            tuple(
                _branches(
                    (("SK에너지", "주유소"), ("GS칼텍스", "주유소"), ("S-OIL", "주유소"), ("현대오일뱅크", "주유소")),
                    10, rng, "{b} {x}주유소",
                )
            ),
            "소매업", {CARD: 0.9, INVOICE: 0.1},
        ),
        "car_service": Category(
            (*_branches((("스피드메이트", "자동차정비"), ("블루핸즈", "자동차정비"), ("오토오아시스", "자동차정비")), 5, rng),
             *_firms((("자동차공업사", "자동차정비"), ("카센터", "자동차정비"), ("모터스", "자동차정비")), 10, rng, 0.2)),
            "서비스", {CARD: 0.7, INVOICE: 0.2, CASH: 0.1}, "mixed", 0.2,
        ),
        "toll_parking": Category(
            (("한국도로공사", "유료도로"), ("(주)하이파킹", "주차장"), ("카카오모빌리티(주)", "주차장"),
             *[(f"{b} 공영주차장", "주차장") for b in rng.choice(_BRANCHES, 6, replace=False)]),
            "서비스", {CARD: 0.9, CASH: 0.1},
        ),
        "transport": Category(
            (("한국철도공사", "철도운송"), ("(주)에스알", "철도운송"), ("대한항공(주)", "항공운송"), ("아시아나항공(주)", "항공운송"),
             ("(주)제주항공", "항공운송"), ("카카오모빌리티(주) 택시", "여객운송"), ("(주)티머니", "교통카드"),
             ("우티(유)", "여객운송"), ("(주)동양고속", "고속버스")),
            "운수업", {CARD: 0.9, INVOICE: 0.1}, "corp",
        ),
        "lodging": Category(
            (("롯데호텔(주)", "호텔"), *_branches((("신라스테이", "호텔"), ("토요코인", "호텔")), 4, rng),
             *_firms((("모텔", "숙박"), ("호텔", "숙박"), ("스테이", "숙박")), 10, rng, 0.2)),
            "숙박업", {CARD: 0.95, INVOICE: 0.05}, "mixed", 0.2,
        ),
        "telecom": Category(
            (("(주)케이티", "전기통신"), ("에스케이텔레콤(주)", "이동통신"), ("(주)엘지유플러스", "전기통신"),
             ("에스케이브로드밴드(주)", "초고속인터넷"), ("(주)엘지헬로비전", "유선방송")),
            "통신업", {INVOICE: 0.85, CARD: 0.15}, "corp",
        ),
        "power": Category((("한국전력공사", "전기공급"),), "전기업", {INVOICE: 1.0}, "corp"),
        "water": Category(
            (("서울특별시 상수도사업본부", "상수도"), ("인천광역시 상수도사업본부", "상수도"), ("수원시 상하수도사업소", "상수도"),
             ("안산시 상하수도사업소", "상수도")),
            "공공행정", {EX_INVOICE: 1.0}, "public",
        ),
        "city_gas": Category(
            (("서울도시가스(주)", "도시가스"), ("(주)삼천리", "도시가스"), ("(주)예스코", "도시가스"), ("대성에너지(주)", "도시가스")),
            "전기가스업", {INVOICE: 1.0}, "corp",
        ),
        "courier": Category(
            (("씨제이대한통운(주)", "택배"), ("(주)한진", "택배"), ("롯데글로벌로지스(주)", "택배"),
             *[(f"{b}우체국", "우편") for b in rng.choice(_BRANCHES, 4, replace=False)],
             *_branches((("경동택배", "택배"),), 3, rng), *_firms((("퀵서비스", "퀵배송"), ("퀵", "퀵배송")), 5, rng, 0.1)),
            "운수업", {CARD: 0.5, INVOICE: 0.4, CASH: 0.1},
        ),
        "freight": Category(
            tuple(_firms((("화물", "화물운송"), ("운수", "화물운송"), ("로지스", "화물운송"), ("물류", "화물운송")), 20, rng, 0.6)),
            "운수업", {INVOICE: 0.85, CARD: 0.15},
        ),
        "insurance": Category(
            (("삼성화재해상보험(주)", "손해보험"), ("현대해상화재보험(주)", "손해보험"), ("디비손해보험(주)", "손해보험"),
             ("케이비손해보험(주)", "손해보험"), ("메리츠화재해상보험(주)", "손해보험"), ("한화생명보험(주)", "생명보험")),
            "금융및보험업", {EX_INVOICE: 0.6, NO_EVIDENCE: 0.4}, "corp",
        ),
        "landlord": Category(
            (*[(name, "부동산임대") for name in people[:14]],
             *_firms((("빌딩", "부동산임대"), ("타워", "부동산임대"), ("개발", "부동산임대")), 12, rng, 0.7)),
            "부동산업", {INVOICE: 1.0},
        ),
        "building_mgmt": Category(
            (("(주)에스원", "보안서비스"), ("에이디티캡스(주)", "보안서비스"),
             *_firms((("빌딩 관리사무소", "건물관리"), ("관리", "건물관리"), ("크린", "청소용역"), ("방역", "방역")), 16, rng, 0.5)),
            "서비스", {INVOICE: 0.9, CARD: 0.1},
        ),
        "rental": Category(
            (("(주)신도리코", "사무기기 임대"), ("캐논코리아(주)", "사무기기 임대"), ("코웨이(주)", "정수기 렌탈"),
             ("에스케이매직(주)", "생활가전 렌탈"), ("후지필름비즈니스이노베이션코리아(주)", "사무기기 임대")),
            "임대업", {INVOICE: 0.8, CARD: 0.2}, "corp",
        ),
        "car_rental": Category(
            (("롯데렌탈(주)", "자동차 임대"), ("(주)쏘카", "자동차 임대"), ("현대캐피탈(주)", "리스"), ("에스케이렌터카(주)", "자동차 임대")),
            "임대업", {INVOICE: 0.7, CARD: 0.3}, "corp",
        ),
        "ads": Category(
            (("네이버(주)", "포털광고"), ("(주)카카오", "포털광고"), ("구글코리아(유)", "온라인광고"), ("메타플랫폼스코리아(유)", "온라인광고"),
             *_firms((("기획", "광고대행"), ("애드", "광고대행"), ("디자인", "광고물제작"), ("미디어", "광고대행")), 16, rng, 0.5)),
            "서비스", {INVOICE: 0.6, CARD: 0.4},
        ),
        "printing": Category(
            tuple(_firms((("인쇄", "인쇄"), ("프린팅", "인쇄"), ("기획인쇄", "인쇄"), ("출력센터", "인쇄")), 12, rng, 0.3)),
            "제조업", {INVOICE: 0.6, CARD: 0.3, CASH: 0.1}, "mixed", 0.2,
        ),
        "bookstore": Category(
            (("교보문고(주)", "서적"), ("(주)영풍문고", "서적"), ("예스이십사(주)", "서적"), ("(주)알라딘커뮤니케이션", "서적"),
             ("(주)한국경제신문", "신문발행"), ("(주)매일경제신문사", "신문발행"), ("(주)조선일보사", "신문발행")),
            "소매업", {EX_CARD: 0.6, EX_INVOICE: 0.3, EX_CASH: 0.1}, "corp",
        ),
        "education": Category(
            (("한국생산성본부", "교육훈련"), ("대한상공회의소", "교육훈련"), ("한국표준협회", "교육훈련"), ("(주)데이원컴퍼니", "온라인교육"),
             *_firms((("교육원", "교육훈련"), ("아카데미", "교육훈련"), ("평생교육원", "교육훈련")), 10, rng, 0.3)),
            "교육서비스", exempt,
        ),
        "platform": Category(
            (("(주)더존비즈온", "소프트웨어"), ("(주)케이지이니시스", "전자지급결제"), ("나이스정보통신(주)", "신용조회"),
             ("(주)나이스평가정보", "신용조회"), ("토스페이먼츠(주)", "전자지급결제")),
            "서비스", {INVOICE: 0.8, CARD: 0.2}, "corp",
        ),
        "professional": Category(
            (*[(f"{name} 세무회계", "세무사") for name in people[14:22]],
             *_firms((("법무법인", "법무"), ("노무법인", "노무"), ("특허법률사무소", "변리사"), ("회계법인", "회계감사")), 10, rng, 0.0)),
            "서비스", {INVOICE: 0.85, CARD: 0.15},
        ),
        "bank": Category(
            (("(주)국민은행", "은행"), ("(주)신한은행", "은행"), ("(주)우리은행", "은행"), ("(주)하나은행", "은행"),
             ("중소기업은행", "은행"), ("농협은행(주)", "은행")),
            "금융업", {NO_EVIDENCE: 1.0}, "corp",
        ),
        "software": Category(
            (("한국마이크로소프트(유)", "소프트웨어"), ("어도비시스템즈코리아(주)", "소프트웨어"), ("(주)가비아", "호스팅"),
             ("아마존웹서비시즈코리아(유)", "클라우드"), ("(주)한글과컴퓨터", "소프트웨어"),
             *_firms((("소프트", "소프트웨어"), ("시스템즈", "시스템통합"), ("정보기술", "시스템통합")), 10, rng, 0.7)),
            "서비스", {INVOICE: 0.6, CARD: 0.4},
        ),
        "electronics": Category(
            (*_branches((("롯데하이마트", "가전"), ("삼성전자판매(주)", "가전"), ("LG전자 베스트샵", "가전")), 4, rng),
             ("애플코리아(유)", "전자기기"), ("(주)컴퓨존", "컴퓨터"), ("(주)다나와", "컴퓨터")),
            "소매업", {CARD: 0.6, INVOICE: 0.4}, "corp",
        ),
        "furniture": Category(
            (("(주)한샘", "가구"), ("(주)퍼시스", "사무용가구"), ("(주)일룸", "가구"), ("(주)시디즈", "의자"), ("이케아코리아(유)", "가구"),
             *_firms((("가구", "가구"), ("오피스가구", "사무용가구")), 5, rng, 0.3)),
            "소매업", {CARD: 0.5, INVOICE: 0.5},
        ),
        "car_dealer": Category(
            (*_branches((("현대자동차(주)", "자동차판매"), ("기아(주)", "자동차판매")), 4, rng, "{b} {x}지점"),
             *_firms((("모터스", "자동차판매"),), 3, rng, 1.0)),
            "도소매", {INVOICE: 1.0}, "corp",
        ),
        "machinery": Category(
            tuple(_firms((("기계", "산업기계"), ("엔지니어링", "산업기계"), ("산기", "산업기계"), ("오토메이션", "자동화설비")), 14, rng, 0.8)),
            "제조업", {INVOICE: 1.0},
        ),
        "repair": Category(
            tuple(_firms((("설비", "설비공사"), ("전기", "전기공사"), ("냉난방", "냉난방공사"), ("인테리어", "실내건축"),
                          ("종합수리", "시설수리")), 20, rng, 0.3)),
            "건설업", {INVOICE: 0.7, CARD: 0.2, CASH: 0.1}, "mixed", 0.15,
        ),
        "goods_supplier": Category(
            tuple(_firms((("전자", "전자부품"), ("상사", "종합도매"), ("유통", "종합도매"), ("트레이딩", "무역"), ("무역", "무역"),
                          ("스포츠", "스포츠용품"), ("리빙", "생활용품"), ("푸드", "식품")), 50, rng, 0.6)),
            "도소매", {INVOICE: 0.95, CARD: 0.05},
        ),
        "material_supplier": Category(
            tuple(_firms((("금속", "금속소재"), ("철강", "철강"), ("화학", "화학원료"), ("소재", "소재"), ("정밀", "금속부품"),
                          ("플라스틱", "합성수지"), ("건자재", "건축자재"), ("전선", "전선")), 45, rng, 0.7)),
            "제조업", {INVOICE: 1.0},
        ),
        "food_supplier": Category(
            (("CJ프레시웨이(주)", "식자재유통"), ("(주)아워홈", "식자재유통"),
             *_firms((("축산", "축산물"), ("수산", "수산물"), ("농산", "농산물"), ("식자재마트", "식자재")), 28, rng, 0.2)),
            "도소매", {EX_INVOICE: 0.45, INVOICE: 0.3, CARD: 0.15, EX_CARD: 0.1}, "mixed", 0.15,
        ),
        "packaging": Category(
            tuple(_firms((("포장", "포장재"), ("팩", "포장재"), ("박스", "골판지상자")), 10, rng, 0.5)),
            "제조업", {INVOICE: 0.9, CARD: 0.1},
        ),
        "subcontractor": Category(
            tuple(_firms((("정공", "금속가공"), ("가공", "임가공"), ("테크", "임가공"), ("도금", "도금"), ("열처리", "열처리")), 20, rng, 0.5)),
            "제조업", {INVOICE: 1.0},
        ),
        "public": Category(
            (*[(f"서울특별시 {gu}청", "지방행정") for gu in ("강남구", "서초구", "송파구", "영등포구", "금천구")],
             ("안산시청", "지방행정"), ("역삼세무서", "국세행정"), ("서초세무서", "국세행정"), ("안산세무서", "국세행정")),
            "공공행정", {NO_EVIDENCE: 1.0}, "public",
        ),
        "social_insurance": Category(
            (("국민건강보험공단", "사회보험"), ("국민연금공단", "사회보험"), ("근로복지공단", "사회보험")),
            "공공행정", {NO_EVIDENCE: 1.0}, "public",
        ),
        "association": Category(
            (("한국무역협회", "경제단체"), ("중소기업중앙회", "경제단체"), ("한국외식업중앙회", "직능단체"),
             *_firms((("협회", "직능단체"), ("조합", "협동조합")), 5, rng, 0.0)),
            "단체", {NO_EVIDENCE: 1.0}, "public",
        ),
        "pharmacy_clinic": Category(
            tuple(_firms((("약국", "약국"), ("내과의원", "의원"), ("가정의학과의원", "의원"), ("건강검진센터", "건강검진")), 15, rng, 0.0)),
            "보건업", exempt,
        ),
        "flower_gift": Category(
            (*_firms((("꽃집", "화훼"), ("플라워", "화훼"), ("화원", "화훼")), 12, rng, 0.1),
             *_branches((("(주)신세계", "백화점"), ("롯데백화점", "백화점"), ("(주)현대백화점", "백화점")), 2, rng)),
            "소매업", {CARD: 0.7, INVOICE: 0.2, CASH: 0.1}, "mixed", 0.2,
        ),
        "customer": Category(
            tuple(_firms((("전자", "전자부품"), ("산업", "제조"), ("건설", "건설"), ("유통", "도소매"), ("테크", "소프트웨어"),
                          ("푸드", "식품"), ("모빌리티", "자동차부품"), ("에너지", "에너지"), ("바이오", "의약품")), 70, rng, 0.8)),
            "법인", {S_INVOICE: 1.0},
        ),
        "card_company": Category(
            (("신한카드(주)", "신용카드"), ("삼성카드(주)", "신용카드"), ("(주)케이비국민카드", "신용카드"), ("현대카드(주)", "신용카드"),
             ("비씨카드(주)", "신용카드"), ("롯데카드(주)", "신용카드"), ("하나카드(주)", "신용카드")),
            "금융업", {S_CARD: 1.0}, "corp",
        ),
        "consumer": Category((("현금영수증(소비자)", ""), ("일반소비자", "")), "", {S_CASH: 1.0}, "none"),
        "storage": Category(
            tuple(_firms((("물류센터", "창고보관"), ("창고", "창고보관"), ("풀필먼트", "창고보관")), 8, rng, 0.8)),
            "운수업", {INVOICE: 1.0},
        ),
        "customs": Category(
            tuple(_firms((("관세사무소", "관세사"), ("해운", "해상운송"), ("포워딩", "운송주선")), 9, rng, 0.5)),
            "서비스", {INVOICE: 0.9, CARD: 0.1},
        ),
        "research": Category(
            (("한국산업기술시험원", "시험인증"), ("한국화학융합시험연구원", "시험인증"), ("한국기계전기전자시험연구원", "시험인증"),
             *_firms((("연구소", "연구개발"), ("랩", "연구개발")), 4, rng, 0.5)),
            "서비스", {INVOICE: 0.9, CARD: 0.1},
        ),
        "promo": Category(
            tuple(_firms((("판촉", "판촉물"), ("기프트", "판촉물"), ("굿즈", "판촉물")), 10, rng, 0.4)),
            "제조업", {INVOICE: 0.7, CARD: 0.3},
        ),
    }


@dataclass(frozen=True)
class Scenario:
    """One way a company books something: account, kind of counterparty, the words clerks use, the amounts."""

    code: str
    category: str
    weight: float
    memos: tuple[str, ...]
    items: tuple[str, ...]
    median: float
    sigma: float
    sectors: tuple[str, ...]
    modes: dict[int, float] | None  # None: the category's usual payment modes
    monthly: bool  # a recurring bill: the memo often names the billing month
    qty: bool  # goods: the item often carries a quantity
    paired: bool  # memo k goes with item k (e.g. 자동차세 / 자동차세), else the two vary independently


_DISHES = ("김치찌개 외", "된장찌개 외", "제육볶음 외", "삼겹살 외", "순대국 외", "칼국수 외", "불고기 정식", "돈까스 외",
           "짜장면 외", "초밥 세트", "한정식 코스", "갈비 외", "식대", "중식", "석식", "도시락 외")
_DRINKS = ("아메리카노 외", "카페라떼 외", "아이스 아메리카노", "음료 외", "케이크 외", "샌드위치 외", "빵 외")
_GOODS = ("전자부품 외", "LED 모듈", "충전 케이블", "생활용품", "주방용품 세트", "운동화", "스포츠 의류", "식품 세트",
          "컴퓨터 부품", "스마트폰 케이스", "블루투스 이어폰", "세제 세트")
_OFFICE = ("A4용지 2500매", "A4용지 5박스", "레이저 토너", "볼펜 외", "포스트잇 외", "파일 바인더", "클립 외", "잉크 카트리지",
           "스테이플러 외", "서류봉투")
_CONSUMABLES = ("청소용품", "쓰레기봉투", "물티슈 외", "종이컵 1000개", "키보드", "마우스", "멀티탭", "USB 메모리",
                "휴지 30롤", "세제 외", "공구 세트", "작업장갑 외", "LED 전구", "건전지")


def _s(
    code: str,
    category: str,
    weight: float,
    memos: Sequence[str],
    items: Sequence[str],
    median: float,
    sigma: float,
    *,
    sectors: tuple[str, ...] = _ALL,
    modes: dict[int, float] | None = None,
    monthly: bool = False,
    qty: bool = False,
    paired: bool = False,
) -> Scenario:
    return Scenario(
        code, category, weight, tuple(memos), tuple(items), median, sigma, sectors, modes, monthly, qty, paired
    )


SCENARIOS: tuple[Scenario, ...] = (
    # 복리후생비
    _s("81100", "restaurant", 110, ("직원 야근 식대", "직원 중식대", "직원 석식대", "직원 회식비", "신입사원 환영 회식", "팀 회식",
                                     "주말 근무 식대", "직원 식대", "식대"), _DISHES, 45_000, 0.7),
    _s("81100", "cafe", 35, ("직원 커피", "직원 음료 구입", "직원 간식", "야근 간식"), _DRINKS, 18_000, 0.6),
    _s("81100", "convenience", 15, ("직원 간식 구입", "탕비실 음료", "생수 구입", "야근 간식"),
       ("생수 2L 6입", "컵라면 외", "과자류", "음료수 외", "삼각김밥 외"), 12_000, 0.6),
    _s("81100", "mart", 15, ("탕비실 간식 구입", "커피믹스 구입", "직원 명절 선물", "생수 및 음료 구입"),
       ("커피믹스 180T", "생수 500ml 40개", "과자 세트", "녹차 티백", "명절 선물세트"), 60_000, 0.8),
    _s("81100", "pharmacy_clinic", 6, ("상비약 구입", "직원 건강검진", "직원 독감 예방접종"),
       ("상비약 외", "종합 건강검진", "독감 예방접종", "파스 외", "소화제 외"), 40_000, 1.2),
    _s("81100", "social_insurance", 8, ("건강보험료 회사부담분", "장기요양보험료 회사부담분"), ("건강보험료", "장기요양보험료"),
       900_000, 0.8, monthly=True, paired=True),
    _s("81100", "flower_gift", 4, ("직원 결혼 축하화환", "직원 조의 화환", "직원 생일 선물", "직원 경조사"),
       ("축하화환", "근조화환", "꽃바구니", "케이크"), 100_000, 0.3),
    _s("81100", "rental", 4, ("정수기 렌탈료", "공기청정기 렌탈료"), ("정수기 렌탈", "공기청정기 렌탈", "비데 렌탈"), 40_000, 0.3,
       monthly=True),
    # 여비교통비
    _s("81200", "transport", 30, ("KTX 출장", "SRT 출장", "국내선 항공권 출장", "택시비", "거래처 방문 택시비", "출장 교통비",
                                   "고속버스 출장"),
       ("KTX 서울-부산", "SRT 수서-동대구", "항공권 김포-제주", "택시비", "택시비", "교통카드 충전", "고속버스 승차권"),
       40_000, 1.0, paired=True),
    _s("81200", "lodging", 12, ("출장 숙박비", "지방 출장 숙박", "현장 출장 숙박"), ("숙박 1박", "숙박 2박", "객실료"), 110_000, 0.5),
    _s("81200", "restaurant", 8, ("출장 중 식대", "출장 식비"), _DISHES, 25_000, 0.5),
    _s("81200", "toll_parking", 5, ("출장 주차비", "출장 통행료"), ("주차요금", "통행료"), 8_000, 0.8),
    # 접대비
    _s("81300", "restaurant", 35, ("거래처 접대 식사", "거래처 미팅 식대", "고객사 접대", "협력사 저녁 접대", "거래처 식대", "식대"),
       _DISHES, 220_000, 0.8),
    _s("81300", "cafe", 6, ("거래처 미팅 음료", "고객 미팅 커피"), _DRINKS, 25_000, 0.5),
    _s("81300", "flower_gift", 12, ("거래처 개업 축하화환", "거래처 조의 화환", "거래처 명절 선물", "고객사 선물 구입",
                                     "거래처 승진 축하 난"),
       ("축하화환", "근조화환", "한우 선물세트", "과일 선물세트", "축하 난", "와인 세트", "홍삼 선물세트"), 150_000, 0.6),
    _s("81300", "mart", 5, ("거래처 명절 선물세트", "거래처 선물 구입"), ("선물세트", "과일 선물세트", "생활용품 선물세트"), 400_000, 0.8),
    # 통신비
    _s("81400", "telecom", 20, ("인터넷 사용료", "전화요금", "휴대폰 요금", "인터넷 전화 요금", "IPTV 요금"),
       ("인터넷 요금", "유선전화 요금", "휴대폰 통신요금", "인터넷전화", "기가인터넷"), 110_000, 0.6, monthly=True),
    _s("81400", "software", 3, ("서버 호스팅 비용", "도메인 연장"), ("웹호스팅", "도메인 연장 1년"), 60_000, 0.8),
    _s("81400", "courier", 2, ("우편 발송 요금", "등기 우편"), ("등기우편", "우편요금"), 6_000, 0.6),
    # 수도광열비
    _s("81500", "water", 4, ("수도요금", "상하수도 요금"), ("수도요금", "상하수도요금"), 120_000, 0.6, monthly=True),
    _s("81500", "city_gas", 4, ("도시가스 요금", "난방비"), ("도시가스 요금", "가스요금"), 180_000, 0.8, monthly=True),
    _s("81500", "gas_station", 1, ("난방유 구입",), ("등유 200L", "등유"), 300_000, 0.4),
    # 전력비
    _s("81600", "power", 10, ("전기요금", "전력요금"), ("전기요금", "일반용 전력", "산업용 전력"), 600_000, 0.9, monthly=True),
    # 세금과공과금
    _s("81700", "public", 8, ("자동차세", "재산세", "주민세(사업소분)", "등록면허세", "인지세", "환경개선부담금"),
       ("자동차세", "재산세", "주민세", "등록면허세", "수입인지", "환경개선부담금"), 250_000, 1.2, paired=True),
    _s("81700", "social_insurance", 4, ("국민연금 회사부담분",), ("국민연금", "연금보험료"), 600_000, 0.8, monthly=True),
    _s("81700", "association", 4, ("협회 연회비", "조합비", "단체 회비"), ("연회비", "월회비", "정회원 회비"), 300_000, 0.8),
    # 지급임차료
    _s("81900", "landlord", 12, ("사무실 임차료", "본사 월세", "창고 임차료", "매장 임대료"), ("임대료", "월 임차료", "창고 임대료"),
       2_500_000, 0.7, monthly=True),
    _s("81900", "rental", 4, ("복합기 임대료", "정수기 렌탈료", "복합기 렌탈료"), ("복합기 렌탈", "정수기 렌탈", "복합기 사용료"),
       150_000, 0.7, monthly=True),
    _s("81900", "car_rental", 3, ("차량 리스료", "렌터카 이용료", "업무용 차량 렌트"), ("차량 리스", "렌터카", "장기렌트"), 700_000, 0.7,
       monthly=True, paired=True),
    # 수선비
    _s("82000", "repair", 5, ("사무실 보수", "에어컨 수리", "전기 배선 공사", "누수 수리", "출입문 수리", "설비 보수"),
       ("에어컨 수리", "배관 수리", "전기공사", "도배 및 장판", "문 수리", "보일러 수리"), 350_000, 1.0),
    _s("82000", "electronics", 1, ("노트북 수리", "복합기 수리"), ("노트북 액정 수리", "프린터 수리"), 150_000, 0.6),
    # 보험료
    _s("82100", "insurance", 6, ("화재보험료", "자동차보험료", "배상책임보험료", "적재물 보험료"),
       ("화재보험", "자동차보험 1년", "영업배상책임보험", "적재물보험"), 700_000, 1.0, paired=True),
    _s("82100", "social_insurance", 2, ("산재보험료 회사부담분", "고용보험료 회사부담분"), ("산재보험료", "고용보험료"), 300_000, 0.8,
       monthly=True, paired=True),
    # 차량유지비
    _s("82200", "gas_station", 40, ("차량 주유", "업무용 차량 주유비", "영업차량 유류대", "화물차 경유"),
       ("휘발유", "경유", "고급휘발유", "휘발유 40L", "경유 60L"), 70_000, 0.5),
    _s("82200", "car_service", 12, ("엔진오일 교환", "타이어 교체", "차량 정기점검", "세차비", "차량 수리", "와이퍼 교체", "차량 검사"),
       ("엔진오일 교환", "타이어 4본", "브레이크패드 교체", "자동세차", "정기검사", "배터리 교체"), 120_000, 0.9),
    _s("82200", "toll_parking", 8, ("주차비", "통행료", "월 정기주차"), ("주차요금", "하이패스 충전", "월주차권", "통행료"), 15_000, 1.0),
    # 경상연구개발비
    _s("82300", "research", 7, ("시험 분석 의뢰", "시제품 성능 시험", "연구용 재료 구입"), ("성능시험", "성분분석", "인증시험 수수료", "연구재료"),
       1_500_000, 1.0, sectors=(MFG, SERVICE)),
    # 운반비
    _s("82400", "courier", 12, ("택배비", "퀵서비스 비용", "샘플 발송 택배", "반송 택배비"), ("택배비", "퀵서비스", "착불 택배", "택배 발송"),
       8_000, 1.0),
    _s("82400", "freight", 8, ("화물 운송비", "제품 운송료", "용차 운임", "납품 운송비"), ("화물운송", "5톤 용차", "1톤 용차", "컨테이너 운송"),
       300_000, 0.8, sectors=_NOT_RESTAURANT),
    # 교육훈련비
    _s("82500", "education", 7, ("직원 교육비", "세미나 참가비", "외부 교육 수강료", "온라인 강의 수강", "자격증 교육"),
       ("직무교육", "세미나 참가비", "온라인 강의", "안전교육", "리더십 교육", "엑셀 실무 교육"), 300_000, 0.9),
    # 도서인쇄비
    _s("82600", "bookstore", 5, ("도서 구입", "신문 구독료", "전문서적 구입", "잡지 구독"), ("도서", "전문서적", "경제신문 구독", "잡지 정기구독", "세무 실무서"),
       30_000, 0.7),
    _s("82600", "printing", 3, ("명함 인쇄", "서류 인쇄", "제본비", "봉투 인쇄"), ("명함 200매", "명함 500매", "제본", "봉투 인쇄", "컬러 출력"),
       60_000, 0.7),
    # 회의비
    _s("82700", "cafe", 1.2, ("회의 다과", "회의용 음료"), _DRINKS, 30_000, 0.6),
    _s("82700", "restaurant", 0.6, ("회의 중 식사", "이사회 식대"), _DISHES, 100_000, 0.6),
    # 포장비
    _s("82800", "packaging", 1.0, ("포장재 구입", "완충재 구입", "박스 구입"), ("골판지 박스", "에어캡", "박스테이프", "완충재", "포장 박스"),
       200_000, 0.8, qty=True),
    _s("82800", "online", 0.4, ("포장재 구입",), ("에어캡 롤", "박스테이프 50개"), 50_000, 0.6),
    # 사무용품비
    _s("82900", "online", 20, ("사무용품 구입", "A4용지 구입", "토너 구입", "필기구 구입"), _OFFICE, 50_000, 0.8),
    _s("82900", "stationery", 12, ("문구류 구입", "사무용품 구입"), _OFFICE, 25_000, 0.7),
    _s("82900", "convenience", 1.5, ("사무용품 구입",), ("볼펜 외", "테이프 외", "건전지"), 8_000, 0.5),
    _s("82900", "mart", 1.5, ("사무용품 구입",), ("파일 외", "필기구", "테이프 외"), 15_000, 0.6),
    # 소모품비
    _s("83000", "online", 35, ("소모품 구입", "청소용품 구입", "비품 소모품", "공구 구입", "주방용품 구입"), _CONSUMABLES, 45_000, 0.9, qty=True),
    _s("83000", "mart", 15, ("소모품 구입", "생활용품 구입"), ("휴지 30롤", "세제", "고무장갑", "종이컵", "쓰레기봉투", "수세미 외"), 40_000, 0.8),
    _s("83000", "convenience", 5, ("소모품 구입",), ("건전지", "물티슈", "쓰레기봉투", "휴지"), 10_000, 0.6),
    _s("83000", "electronics", 8, ("소모품 구입", "전산 소모품"), ("마우스", "키보드", "HDMI 케이블", "멀티탭", "USB 허브"), 40_000, 0.7),
    _s("83000", "stationery", 2, ("소모품 구입",), ("테이프 외", "가위 외", "건전지"), 12_000, 0.6),
    # 지급수수료
    _s("83100", "professional", 16, ("세무 기장 수수료", "법무 자문료", "노무 자문 수수료", "특허 출원 수수료", "결산 조정료",
                                      "회계 자문료"),
       ("기장료", "자문료", "노무자문", "특허출원", "조정료", "자문 수수료"), 330_000, 0.9, monthly=True),
    _s("83100", "platform", 6, ("ERP 사용료", "PG 결제 수수료", "신용조회 수수료", "카드 단말기 수수료"),
       ("ERP 월사용료", "결제대행 수수료", "신용조회", "단말기 사용료"), 120_000, 0.9, monthly=True, paired=True),
    _s("83100", "bank", 10, ("송금 수수료", "이체 수수료", "잔액증명 발급 수수료", "외환 송금 수수료"), ("타행이체 수수료", "송금수수료", "증명서 발급"),
       2_000, 1.0),
    _s("83100", "software", 8, ("클라우드 이용료", "소프트웨어 구독료", "그룹웨어 사용료", "도메인 연장"),
       ("Microsoft 365", "Adobe Creative Cloud", "AWS 사용료", "그룹웨어 월사용료", "웹호스팅"), 150_000, 1.0, monthly=True),
    _s("83100", "building_mgmt", 4, ("경비 용역비", "보안 서비스 이용료", "청소 용역비"), ("보안 서비스", "청소 용역", "방역 서비스"),
       250_000, 0.6, monthly=True),
    _s("83100", "public", 1.5, ("인감증명 발급 수수료", "등기부등본 발급"), ("증명서 발급", "등기부등본"), 3_000, 0.5),
    # 보관료, 광고선전비, 판매촉진비, 건물관리비, 수출제비용, 판매수수료, 견본비, 잡비
    _s("83200", "storage", 5, ("창고 보관료", "물류센터 보관료", "재고 보관료"), ("보관료", "창고료", "팔레트 보관"), 800_000, 0.8,
       sectors=(MFG, WHOLESALE), monthly=True),
    _s("83300", "ads", 10, ("검색광고비", "온라인 광고비", "SNS 광고", "현수막 제작", "광고 대행 수수료", "전단지 배포"),
       ("키워드광고", "배너광고", "인스타그램 광고", "현수막", "광고대행", "유튜브 광고"), 800_000, 1.1),
    _s("83300", "printing", 4, ("전단지 인쇄", "카탈로그 인쇄", "홍보물 제작"), ("전단지 5000매", "카탈로그", "리플렛", "홍보 포스터"),
       400_000, 0.8),
    _s("83400", "promo", 3, ("판촉물 제작", "고객 사은품 구입", "판촉 행사 경품"), ("판촉용 볼펜", "에코백", "텀블러", "사은품", "기념품"),
       500_000, 0.8, qty=True),
    _s("83400", "online", 1, ("고객 사은품 구입",), ("사은품", "모바일 상품권"), 200_000, 0.8),
    _s("83700", "building_mgmt", 10, ("건물 관리비", "관리비", "공용 관리비", "주차장 관리비"), ("관리비", "공용관리비", "주차관리비"),
       600_000, 0.6, monthly=True),
    _s("83800", "customs", 4, ("수출 통관 수수료", "선적 비용", "해상 운임", "포워딩 비용"), ("통관수수료", "THC", "해상운임", "서류발급비"),
       700_000, 0.9, sectors=(MFG, WHOLESALE)),
    _s("83900", "online", 3, ("오픈마켓 판매수수료", "판매 대행 수수료"), ("판매수수료", "중개수수료"), 900_000, 0.9,
       sectors=(WHOLESALE, MFG), monthly=True),
    _s("84200", "promo", 1.5, ("견본품 제작", "샘플 제작"), ("샘플", "견본품"), 300_000, 0.7, sectors=(MFG, WHOLESALE)),
    _s("84800", "convenience", 0.4, ("쓰레기봉투 구입", "잡비"), ("종량제 봉투", "기타"), 10_000, 0.5),
    _s("84800", "public", 0.4, ("폐기물 처리비", "대형폐기물 스티커"), ("폐기물 처리", "대형폐기물 스티커"), 20_000, 0.6),
    # Assets
    _s("14600", "goods_supplier", 35, ("상품 매입", "판매용 상품 매입", "상품 입고"), _GOODS, 3_000_000, 1.2,
       sectors=_NOT_RESTAURANT, qty=True),
    _s("14600", "online", 5, ("판매용 상품 구입", "상품 사입"), _GOODS, 800_000, 1.0, sectors=(WHOLESALE,), qty=True),
    _s("15300", "material_supplier", 30, ("원재료 매입", "원자재 구입", "자재 구입"),
       ("SUS304 코일", "알루미늄 판재", "냉연강판", "ABS 수지", "PP 원료", "동선", "볼트 너트", "PCB 기판", "레진", "시멘트",
        "석고보드", "합판"),
       6_000_000, 1.1, sectors=(MFG, CONSTRUCTION), qty=True),
    _s("15300", "food_supplier", 20, ("식자재 구입", "육류 구입", "야채 구입", "수산물 구입"),
       ("한우 등심", "돼지고기 삼겹", "양파 외", "쌀 20kg", "배추 외", "고등어", "식용유 18L", "고춧가루"), 400_000, 1.0,
       sectors=(RESTAURANT,)),
    _s("16200", "packaging", 3, ("부자재 구입", "부재료 매입"), ("라벨 스티커", "포장 필름", "접착제", "나사류"), 900_000, 0.9,
       sectors=(MFG,), qty=True),
    _s("16200", "material_supplier", 3, ("부자재 구입",), ("나사류", "접착제", "패킹"), 1_200_000, 0.9, sectors=(MFG,)),
    _s("20600", "machinery", 0.8, ("생산설비 구입", "기계장치 취득", "설비 증설"), ("CNC 선반", "사출성형기", "컨베이어", "컴프레서", "프레스 금형"),
       40_000_000, 0.8, sectors=(MFG,)),
    _s("20800", "car_dealer", 0.5, ("업무용 차량 구입", "화물차 구입"), ("포터2", "봉고3", "쏘나타", "그랜저", "카니발", "스타리아"),
       35_000_000, 0.4),
    _s("21200", "electronics", 5, ("노트북 구입", "모니터 구입", "컴퓨터 구입", "복합기 구입", "에어컨 구입"),
       ("노트북", "27인치 모니터", "데스크탑 PC", "복합기", "냉장고", "에어컨", "태블릿"), 1_500_000, 0.6),
    _s("21200", "furniture", 2.5, ("사무용 가구 구입", "의자 구입", "책상 구입"), ("사무용 의자", "책상", "회의 테이블", "캐비닛", "파티션"),
       800_000, 0.7, qty=True),
    _s("21200", "online", 2.5, ("비품 구입",), ("모니터", "노트북", "사무용 의자", "공기청정기"), 500_000, 0.7),
    _s("22700", "software", 3, ("소프트웨어 구입", "라이선스 구매"), ("ERP 라이선스", "CAD 라이선스", "보안 솔루션", "한글 오피스 라이선스"),
       3_000_000, 0.9, sectors=(MFG, WHOLESALE, SERVICE)),
    _s("53300", "subcontractor", 12, ("외주 가공비", "임가공비", "도금 외주", "열처리 외주", "사출 외주"),
       ("CNC 가공", "도금", "열처리", "도장", "사출 임가공", "조립 외주"), 3_000_000, 1.0, sectors=(MFG,)),
    # Sales
    _s("40100", "customer", 30, ("상품 매출", "상품 판매", "도매 판매"), _GOODS, 4_000_000, 1.2, sectors=(WHOLESALE, MFG),
       modes={S_INVOICE: 0.85, S_CARD: 0.1, S_EXPORT: 0.05}),
    _s("40100", "card_company", 12, ("카드 매출", "카드매출 집계"), ("카드매출", "음식 판매 카드분", "상품 판매 카드분"), 1_200_000, 0.8,
       sectors=(RESTAURANT, WHOLESALE)),
    _s("40100", "consumer", 4, ("현금영수증 매출", "현금 매출"), ("현금영수증 발행분", "현금매출"), 300_000, 0.8,
       sectors=(RESTAURANT, WHOLESALE)),
    _s("40400", "customer", 30, ("제품 매출", "제품 납품", "수출 매출"), ("가공품 납품", "금형 부품", "사출 제품", "전자 모듈", "화학 원료 납품"),
       12_000_000, 1.1, sectors=(MFG,), modes={S_INVOICE: 0.85, S_EXPORT: 0.1, S_ZERO: 0.05}),
    _s("41200", "customer", 30, ("용역 매출", "용역 대금", "공사 대금", "컨설팅 용역", "개발 용역비", "수강료 매출"),
       ("SI 개발 용역", "유지보수 용역", "실내 인테리어 공사", "경영 컨설팅", "디자인 용역", "수강료", "운송 용역"), 5_000_000, 1.2,
       sectors=(SERVICE, CONSTRUCTION)),
)


def _check_tables() -> None:
    """Fail at import when a demo table drifts from the data contract in schema.py or the chart."""
    problems = [f"VAT type {m[0]}" for m in MODES if m[0] not in VAT_TYPES]
    problems += [f"evidence {d}" for m in MODES for d in m[1:3] if d not in DOCUMENT_TYPES]
    problems += [f"taxpayer type {c.taxpayer_type}" for c in COMPANIES if c.taxpayer_type not in TAXPAYER_TYPES]
    problems += [f"side {side}" for side in ("차변", "대변") if side not in DR_CR]
    if NON_DEDUCTIBLE_VAT_TYPE not in VAT_TYPES:
        problems.append(f"VAT type {NON_DEDUCTIBLE_VAT_TYPE}")
    used = {sc.code for sc in SCENARIOS} | set(CODE_START_MONTH) | set(RELATED_ACCOUNTS)
    used |= {c for related in RELATED_ACCOUNTS.values() for c in related}
    used |= set(MANUFACTURING_TWINS) | {twin for twin, _ in MANUFACTURING_TWINS.values()}
    problems += [f"account {code}" for code in sorted(used - set(CHART_OF_ACCOUNTS))]
    if problems:
        raise ValueError(f"demo ledger tables use values outside the contract: {problems}")


_check_tables()
