"""Balance-sheet contagion models: interbank default cascades, Eisenberg–Noe clearing,
double-layer fire sales, maximum-entropy interbank matrices, bank–asset cascades, DebtRank.

Pure functions of balance-sheet tables (no I/O)."""
