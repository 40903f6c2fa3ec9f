"""USMCA origin determination: the case (input), the legal tests, the determination (output) and its memo.

Public API::

    from usmca.origin.case import load_case
    from usmca.origin.determine import determine
    d = determine(load_case("case.yaml"))   # uses the reference store at $USMCA_HOME
    d.to_json_dict()                        # interchange format section 2

(``determine`` is not re-exported here: it would shadow the module ``usmca.origin.determine``.)
"""
