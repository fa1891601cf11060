"""Language tags: what a blog's `language` may be (BCP 47, checked against the IANA
registry by langcodes). The words, dates and plural forms of each are app/site/i18n.py's."""

import langcodes


def language_tag(value: str) -> str:
    """`value` as a canonical BCP 47 tag, or ValueError. langcodes knows the IANA subtag
    registry; it also reads `en_GB`, which is not BCP 47."""
    if "_" in value or not langcodes.tag_is_valid(value):
        raise ValueError("must be a BCP 47 language tag, e.g. en, ru, ar or pt-BR")
    return str(langcodes.standardize_tag(value))
