"""E-mail addresses (RFC 5322 simplified: dot-atom local part, dotted domain,
alphabetic top-level domain). No top-level domain list is downloaded.
"""

from __future__ import annotations

from anonymize.detect.entity import EntityDefinition, Rule

NAME = "EMAIL_ADDRESS"

PATTERN = r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"

EMAIL = EntityDefinition(
    name=NAME,
    rules=(
        Rule(
            NAME,
            PATTERN,
            r"(?:(?s:.)[^A-Za-z0-9._%+-])",
            "[^A-Za-z0-9_-]",
            score=0.9,
            requires="@",
        ),
    ),
    context=("邮箱", "邮件", "email", "e-mail", "mail"),
    examples=(
        ("zhang.san@163.com", "zhang.san@163.com"),  # dotted local part
        ("邮箱li_si+work@mail.example.com.cn，谢谢", "li_si+work@mail.example.com.cn"),
        ("发至a@b.cn.", "a@b.cn"),  # a sentence's full stop is not the domain's
    ),
    counter_examples=(
        "a@b",  # no top-level domain
        "v4.11.32，服务器 192.168.44.111",  # version and IP address
    ),
)
