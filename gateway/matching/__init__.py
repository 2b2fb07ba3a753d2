"""Matching a person against the people being searched for (issue 25): pure, no I/O.

A found person (a verification request, an alert, a case's person) is compared with the
missing-person reports and the other cases' persons, field by field, and the comparisons are
summed into a calibrated probability that the two records are the same person, with the
reasons said in words (Fellegi-Sunter with term frequencies: ``model``).

    person      the PERSON of the API contract, validated (``Person.from_json``)
    names       names brought to comparable Latin keys (accents, order, middle names,
                regional surnames, Khmer and Lao romanisations, native scripts)
    frequencies how common a name part is (a common surname agreeing says little)
    dates       birth date, year, month and estimated age compared as ranges
    places      home places with and without accents and abbreviations
    papers      identity papers (decisive) and phones (E.164)
    mrz         an identity paper's machine-readable zone (ICAO 9303 TD1 and TD3)
    model       the scorer: ``prepare``, ``score``, ``rank``; parameters in parameters.json
    blocking    the keys under which a person is indexed to be found as a candidate

Nothing here logs: the values it handles are personal data.
"""
