"""Word lists for the generated tasks (written for this project)."""

# First names of varied endings, so that last letters spread over the alphabet.
NAMES = (
    "Ada", "Abel", "Amir", "Anika", "Arlo", "Basil", "Beatrix", "Bruno", "Cecil", "Clara",
    "Cyrus", "Dalia", "Doris", "Dmitri", "Edith", "Elias", "Enzo", "Fabian", "Fiona", "Felix",
    "Gideon", "Greta", "Gus", "Hana", "Hector", "Hugo", "Ines", "Ivan", "Isaak", "Jasper",
    "Juno", "Joaquin", "Kai", "Karim", "Kobe", "Lars", "Leah", "Lionel", "Mabel", "Magnus",
    "Milo", "Nadia", "Noor", "Nikolai", "Odette", "Otto", "Oswald", "Pablo", "Petra", "Quincy",
    "Rafael", "Rosalind", "Rudy", "Sabine", "Silas", "Soren", "Tamsin", "Tobias", "Uma", "Ulrich",
    "Vera", "Viktor", "Wendel", "Willa", "Xavier", "Yara", "Yusuf", "Zelda", "Zoltan", "Ingrid",
    "Benedikt", "Camille", "Dorothy", "Emeric", "Farouk", "Gwendolyn", "Harriet", "Imogen",
    "Jolyon", "Kestrel", "Lucienne", "Maximilian", "Nellie", "Orla", "Perpetua", "Rex",
    "Sunniva", "Thaddeus", "Valentin", "Wiktor", "Ximena", "Yeong", "Zaid", "Bex", "Fitz", "Ruth",
)

# The fixed cast of the shuffled-objects task, in the order BIG-bench uses.
PLAYERS = ("Alice", "Bob", "Claire", "Dave", "Eve", "Fred", "Gertrude")

COLORS = (
    "red", "blue", "green", "yellow", "black", "white", "pink", "purple", "orange", "brown", "gray",
)
