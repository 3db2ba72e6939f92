"""Static facts of the demo territory: the 13 communes of the CPTS Costières en Camargue.

Why apart from ``demo.py``: these are facts about the real world (INSEE codes, postcodes,
positions, shared borders) that someone may need to check against a source; the generator of
fictitious people lives in ``demo.py``.

Sources (checked 2026): the French Wikipedia articles of each commune (infobox "Code commune",
"Code postal", "Coordonnées"; section "Communes limitrophes"). Population figures are the 2021
municipal populations, rounded; they only weight where the fictitious professionals settle.
"""

from __future__ import annotations

from dataclasses import dataclass

TERRITORY_NAME = "CPTS Costières en Camargue"


@dataclass(frozen=True)
class CommuneFact:
    """One commune as published by INSEE and La Poste."""

    insee_code: str
    postcode: str
    name: str
    latitude: float
    longitude: float
    population: int


COMMUNES: tuple[CommuneFact, ...] = (
    CommuneFact("30032", "30300", "Beaucaire", 43.8081, 4.6442, 16_000),
    CommuneFact("30034", "30127", "Bellegarde", 43.7544, 4.5153, 7_700),
    CommuneFact("30047", "30230", "Bouillargues", 43.8008, 4.4275, 6_200),
    CommuneFact("30060", "30132", "Caissargues", 43.7967, 4.3794, 4_100),
    CommuneFact("30089", "30300", "Comps", 43.8533, 4.6067, 1_700),
    CommuneFact("30117", "30300", "Fourques", 43.6939, 4.6111, 2_700),
    CommuneFact("30125", "30128", "Garons", 43.7692, 4.4292, 5_100),
    CommuneFact("30135", "30300", "Jonquières-Saint-Vincent", 43.8289, 4.5639, 3_850),
    CommuneFact("30155", "30129", "Manduel", 43.8194, 4.4742, 7_100),
    CommuneFact("30211", "30129", "Redessan", 43.8331, 4.4975, 4_200),
    CommuneFact("30356", "30230", "Rodilhan", 43.8278, 4.4342, 2_800),
    CommuneFact("30258", "30800", "Saint-Gilles", 43.6786, 4.4317, 14_300),
    # Vallabrègues: coordinates from the German article (43° 51' N, 4° 38' E), refined from memory.
    CommuneFact("30336", "30300", "Vallabrègues", 43.8558, 4.6328, 1_400),
)

# Shared borders between two of the 13 communes (INSEE codes; stored both ways by the loader).
# Confirmed by the communes' own "Communes limitrophes" lists: Rodilhan, Manduel, Redessan,
# Jonquières-Saint-Vincent, Fourques, Caissargues, Bouillargues, Bellegarde.
# Not found in a source, kept from general knowledge of the map: Garons–Saint-Gilles (the
# Nîmes-Garons airport lies on Saint-Gilles' land at Garons' edge), Beaucaire–Comps and
# Beaucaire–Vallabrègues, Comps–Vallabrègues (facing each other across the Rhône; Comps was split
# from Vallabrègues in 1790).
NEIGHBOURS: tuple[tuple[str, str], ...] = (
    ("30356", "30155"),  # Rodilhan – Manduel
    ("30356", "30047"),  # Rodilhan – Bouillargues
    ("30155", "30211"),  # Manduel – Redessan
    ("30155", "30032"),  # Manduel – Beaucaire
    ("30155", "30034"),  # Manduel – Bellegarde
    ("30155", "30047"),  # Manduel – Bouillargues
    ("30211", "30135"),  # Redessan – Jonquières-Saint-Vincent
    ("30211", "30032"),  # Redessan – Beaucaire
    ("30135", "30032"),  # Jonquières-Saint-Vincent – Beaucaire
    ("30117", "30258"),  # Fourques – Saint-Gilles
    ("30117", "30034"),  # Fourques – Bellegarde
    ("30117", "30032"),  # Fourques – Beaucaire
    ("30060", "30047"),  # Caissargues – Bouillargues
    ("30060", "30125"),  # Caissargues – Garons
    ("30060", "30258"),  # Caissargues – Saint-Gilles
    ("30047", "30125"),  # Bouillargues – Garons
    ("30047", "30034"),  # Bouillargues – Bellegarde (newer "communes limitrophes" table)
    ("30034", "30032"),  # Bellegarde – Beaucaire
    ("30034", "30125"),  # Bellegarde – Garons
    ("30034", "30258"),  # Bellegarde – Saint-Gilles
    ("30125", "30258"),  # Garons – Saint-Gilles (general knowledge)
    ("30032", "30089"),  # Beaucaire – Comps (general knowledge)
    ("30032", "30336"),  # Beaucaire – Vallabrègues (general knowledge)
    ("30089", "30336"),  # Comps – Vallabrègues (general knowledge)
)

# The small communes the médicobus tours (no MSP, few or no doctors).
MEDICOBUS_COMMUNES: tuple[str, ...] = ("30089", "30336", "30117", "30356", "30211", "30135")

# fmt: off
FIRST_NAMES: tuple[str, ...] = (
    "Adèle", "Agnès", "Alain", "Alexandre", "Alice", "Amélie", "Anaïs", "Anne", "Arnaud", "Aurélie",
    "Baptiste", "Bénédicte", "Benoît", "Bernard", "Camille", "Caroline", "Cécile", "Céline", "Charlotte",
    "Christophe", "Claire", "Clément", "Damien", "David", "Delphine", "Denis", "Didier", "Dominique",
    "Élise", "Élodie", "Émilie", "Emmanuel", "Éric", "Estelle", "Fabien", "Fabienne", "Florence",
    "François", "Frédéric", "Gaëlle", "Gérald", "Grégoire", "Guillaume", "Hélène", "Hervé", "Inès",
    "Isabelle", "Jean-Luc", "Jean-Marc", "Jérôme", "Joël", "Julie", "Julien", "Karine", "Laure",
    "Laurent", "Léa", "Lucie", "Manon", "Marc", "Marie", "Marion", "Mathieu", "Maëlle", "Mélanie",
    "Michèle", "Nathalie", "Nicolas", "Noémie", "Olivier", "Pascal", "Patrice", "Pauline", "Philippe",
    "Pierre", "Raphaël", "Régis", "Renée", "Sandrine", "Sébastien", "Séverine", "Solène", "Sophie",
    "Stéphane", "Sylvie", "Thierry", "Thomas", "Valérie", "Véronique", "Vincent", "Yannick", "Zoé",
)

LAST_NAMES: tuple[str, ...] = (
    "Arnaud", "Aubert", "Barbier", "Barre", "Benoît", "Bertrand", "Blanc", "Bonnet", "Boyer", "Brun",
    "Chabert", "Chauvet", "Clément", "Colin", "Coste", "Daudet", "David", "Delmas", "Dumas", "Durand",
    "Espinasse", "Fabre", "Faure", "Fournier", "Gaillard", "Garcia", "Gautier", "Gérard", "Giraud",
    "Guérin", "Guiraud", "Hébert", "Imbert", "Jourdan", "Lacroix", "Lambert", "Laurent", "Lefèvre",
    "Lemaître", "Leroy", "Maréchal", "Marty", "Masson", "Mathieu", "Maurin", "Mercier", "Meunier",
    "Michel", "Molinier", "Moreau", "Nicolas", "Noël", "Olivier", "Pagès", "Perrin", "Peyre", "Pons",
    "Rey", "Reynaud", "Richard", "Rivière", "Robert", "Roche", "Roger", "Rouvière", "Roux", "Sabatier",
    "Sanchez", "Séguin", "Simon", "Teissier", "Thibault", "Valette", "Vasseur", "Vidal", "Vincent",
)

STREETS: tuple[str, ...] = (
    "rue de la République", "avenue de la Gare", "place de la Mairie", "rue Victor-Hugo",
    "boulevard Gambetta", "rue des Écoles", "avenue Jean-Jaurès", "chemin des Costières",
    "rue du Château", "place de l'Église", "route de Nîmes", "rue Alphonse-Daudet",
    "avenue de la Camargue", "rue Frédéric-Mistral", "quai du Rhône", "rue de la Fontaine",
)

# fmt: on

# Names of officines (two communes may each have their "Pharmacie du Centre").
PHARMACY_NAMES: tuple[str, ...] = (
    "Pharmacie du Centre",
    "Pharmacie de la Mairie",
    "Pharmacie des Costières",
    "Pharmacie du Rhône",
    "Pharmacie de la Gare",
    "Pharmacie du Château",
    "Pharmacie de la Camargue",
    "Pharmacie de l'Abbaye",
    "Pharmacie des Arènes",
    "Pharmacie du Marché",
)

# Specialists of the territory: diabetes and kidney first (as in Vénissieux), then the heart.
SPECIALTIES: tuple[str, ...] = (
    "Diabétologie",
    "Néphrologie",
    "Cardiologie",
    "Diabétologie",
    "Néphrologie",
    "Cardiologie",
    "Pneumologie",
)
