"""Static material the season is drawn from: cities, venue names, titles, producers.

Real place names with their provinces and postcodes (so regional benchmarks have
something to group by); venue, production and producer names are plausible, not
real bookings.
"""

from __future__ import annotations

__all__ = ["BE_CITIES", "GENRES", "NL_CITIES", "PRODUCERS", "TITLES", "VENUE_PATTERNS"]

# (city, zipcode, province id (ISO 3166-2), province name)
NL_CITIES: tuple[tuple[str, str, str, str], ...] = (
    ("Utrecht", "3511 CD", "NL-UT", "Utrecht"),
    ("Amsterdam", "1017 RP", "NL-NH", "Noord-Holland"),
    ("Rotterdam", "3012 AA", "NL-ZH", "Zuid-Holland"),
    ("Den Haag", "2511 CS", "NL-ZH", "Zuid-Holland"),
    ("Groningen", "9711 AM", "NL-GR", "Groningen"),
    ("Eindhoven", "5611 AZ", "NL-NB", "Noord-Brabant"),
    ("Nijmegen", "6511 LA", "NL-GE", "Gelderland"),
    ("Zwolle", "8011 CW", "NL-OV", "Overijssel"),
    ("Leeuwarden", "8911 BK", "NL-FR", "Fryslân"),
    ("Maastricht", "6211 LE", "NL-LI", "Limburg"),
    ("Haarlem", "2011 HH", "NL-NH", "Noord-Holland"),
    ("Arnhem", "6811 BK", "NL-GE", "Gelderland"),
    ("Breda", "4811 CK", "NL-NB", "Noord-Brabant"),
    ("Tilburg", "5038 BA", "NL-NB", "Noord-Brabant"),
    ("Deventer", "7411 HE", "NL-OV", "Overijssel"),
    ("Middelburg", "4331 LN", "NL-ZE", "Zeeland"),
    ("Assen", "9401 HS", "NL-DR", "Drenthe"),
    ("Almere", "1315 HR", "NL-FL", "Flevoland"),
    ("Amersfoort", "3811 LM", "NL-UT", "Utrecht"),
    ("Leiden", "2312 AB", "NL-ZH", "Zuid-Holland"),
    ("Enschede", "7511 JM", "NL-OV", "Overijssel"),
    ("Delft", "2611 HB", "NL-ZH", "Zuid-Holland"),
)

BE_CITIES: tuple[tuple[str, str, str, str], ...] = (
    ("Antwerpen", "2000", "BE-VAN", "Antwerpen"),
    ("Gent", "9000", "BE-VOV", "Oost-Vlaanderen"),
    ("Brugge", "8000", "BE-VWV", "West-Vlaanderen"),
    ("Leuven", "3000", "BE-VBR", "Vlaams-Brabant"),
    ("Hasselt", "3500", "BE-VLI", "Limburg"),
    ("Mechelen", "2800", "BE-VAN", "Antwerpen"),
    ("Kortrijk", "8500", "BE-VWV", "West-Vlaanderen"),
    ("Aalst", "9300", "BE-VOV", "Oost-Vlaanderen"),
    ("Turnhout", "2300", "BE-VAN", "Antwerpen"),
    ("Genk", "3600", "BE-VLI", "Limburg"),
    ("Sint-Niklaas", "9100", "BE-VOV", "Oost-Vlaanderen"),
    ("Oostende", "8400", "BE-VWV", "West-Vlaanderen"),
    ("Brussel", "1000", "BE-BRU", "Brussels Hoofdstedelijk Gewest"),
    ("Lier", "2500", "BE-VAN", "Antwerpen"),
)

# "{city}" is replaced; per country.
VENUE_PATTERNS: dict[str, tuple[str, ...]] = {
    "NL": ("Stadsschouwburg {city}", "Schouwburg {city}", "Theater {city}",
           "Muziekcentrum {city}", "Podium {city}", "De Harmonie {city}"),
    "BE": ("Cultuurcentrum {city}", "Stadsschouwburg {city}", "CC {city}",
           "Theater aan de Stroom {city}", "Concertzaal {city}"),
}

GENRES: tuple[str, ...] = ("toneel", "dans", "muziektheater", "cabaret", "klassiek", "jeugd",
                           "opera", "jazz", "musical")

TITLES: tuple[str, ...] = (
    "De Meeuw", "Hamlet", "Medea", "Orfeo", "Het Zwanenmeer", "Kersentuin", "De Storm",
    "Oom Wanja", "Nachtwacht", "Vlinders in de buik", "De Verleiding", "Mars of Mens",
    "Winterreise", "Het Gezin", "Drie Zusters", "De Vader", "Zomergasten Live",
    "Het Verdriet", "Bolero", "Licht uit", "Zoutwater", "Over de Grens", "De Bruiloft",
    "Kleine Zeemeermin", "Pluk", "Max Havelaar", "Mahler 5", "Carmen", "Lang leve de Koning",
    "Stilte na de Storm", "Het Huis", "Ode aan de Polder", "Vrijdagavond", "Grensgeval",
)

# (producer id, name)
PRODUCERS: tuple[tuple[str, str], ...] = (
    ("PR-1011", "Het Nationale Theater"), ("PR-1024", "Introdans"),
    ("PR-1037", "Toneelgroep Maastricht"), ("PR-1042", "Orkater"),
    ("PR-1058", "Scapino Ballet"), ("PR-1063", "NTGent"), ("PR-1079", "Toneelhuis"),
    ("PR-1081", "Opera2Day"), ("PR-1095", "De Toneelmakerij"), ("PR-1102", "BRONKS"),
    ("PR-1117", "Theater Rotterdam"), ("PR-1120", "Het Zuidelijk Toneel"),
    ("PR-1134", "Nederlands Kamerorkest"), ("PR-1149", "Kopergietery"),
)
