"""Entities in document text: pattern entities (dates, money, e-mail addresses, URLs, phone
numbers, IBANs), each with character offsets into the text and a normalised value."""

from .patterns import PATTERN_TYPES, Entity, find_pattern_entities

__all__ = ["PATTERN_TYPES", "Entity", "find_pattern_entities"]
