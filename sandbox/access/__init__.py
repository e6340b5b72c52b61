"""Who may do what: principals and tokens, request throttling, grants and their
states (art. 35, 76), and the privacy-budget ledger of each firm × dataset."""
