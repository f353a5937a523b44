"""Word tables of the second toy world ("toy2"): plain data, read by `lexicon`, which derives everything else.

Every entry is one word and one token (letters only, so the word-level tokenizer never splits it). The tables hold
the concept hierarchies the dictionaries work needs for absorption (animal -> mammal / bird / fish; food -> fruit /
vegetable / dish; place -> indoor / outdoor), gendered names (a large pool: IOI holds some out), objects with a
canonical colour, material and size, and verbs with their agreement forms. Order matters: it is the token order.
"""

from __future__ import annotations

MALE_NAMES = """
John Tom James David Michael Robert William Richard Thomas Daniel Paul Mark George Steven Edward Brian Kevin Jason
Jacob Gary Frank Eric Peter Henry Jack Adam Sam Max Leo Oscar Victor Hugo Simon Carl Ryan Nathan Aaron Abel Alan
Albert Alex Alfred Andrew Angus Anthony Arthur Austin Barry Ben Benedict Bernard Bill Bob Boris Bruce Bruno Caleb
Calvin Cameron Carlos Cecil Charles Chris Christian Clark Colin Connor Craig Curtis Cyril Dale Damian Dan Dean Dennis
Derek Dexter Dominic Donald Douglas Duncan Dylan Earl Edgar Edwin Eli Elliot Emil Ernest Ethan Eugene Evan Felix
Fergus Finn Floyd Fred Gabriel Gavin Geoffrey Gerald Gilbert Glen Gordon Graham Grant Gregory Guy Harold Harry Harvey
Hector Herbert Howard Ian Isaac Ivan Jake Jared Jasper Jeff Jerome Jesse Joel Jonah Jordan Joseph Joshua Julian
Justin Keith Kenneth Kyle Lance Larry Lawrence Lewis Liam Lionel Logan Louis Lucas Luke Malcolm Marcus Martin Matthew
Maurice Miles Mitchell Murray Neil Nelson Nicholas Noah Norman Oliver Omar Otto Owen Patrick Percy Philip Quentin
Ralph Raymond Reuben Rex Roger Roland Ronald Ross Rupert Russell Samuel Scott Sean Seth Shane Silas Stanley Stuart
Theo Timothy Toby Todd Travis Trevor Tyler Vernon Vincent Wade Walter Warren Wayne Wesley Wilbur Xavier Zach Ahmed Ali
Andre Anton Axel Bjorn Cedric Diego Dmitri Elias Enzo Erik Fabian Felipe Gustav Hans Ibrahim Igor Jonas Jorge Kai
Karl Klaus Lars Lorenzo Luca Marco Mateo Milo Nils Olaf Pablo Pedro Rafael Ravi Sergio Stefan Tariq Viktor Yusuf
Bradley Brandon Chad Clifford Clive Desmond Dudley Elmer Everett Franklin Garrett Gideon Hank Horace Irving Jerry
Jimmy Kurt Leon Lloyd Marvin Melvin Nigel Oswald Perry Randall Rodney Roy Rufus Sidney Terrence Ted Tony Ulysses
Vince Wallace Winston Arnold Barnaby Ezra
""".split()
FEMALE_NAMES = """
Mary Anna Emma Sarah Lisa Laura Linda Susan Karen Nancy Alice Julia Rose Grace Helen Ruth Diana Clara Emily Olivia
Sophia Chloe Lucy Kate Jane Amy Eva Nora Lily Ella Ivy Maya Zoe Iris Hannah Paula Abigail Ada Adele Agnes Alexandra
Alison Amanda Amelia Andrea Angela Anita Annie Audrey Ava Barbara Beatrice Bella Bernice Beth Bethany Betty Bianca
Brenda Bridget Camilla Carla Carmen Carol Caroline Cassandra Catherine Cecilia Celia Charlotte Cheryl Christine Cindy
Claire Claudia Cora Cynthia Daisy Daphne Dawn Deborah Delia Denise Dolores Donna Doris Dorothy Edith Eileen Elaine
Eleanor Elena Eliza Elizabeth Ellen Eloise Elsa Esther Ethel Eve Evelyn Fiona Flora Florence Frances Freya Gemma
Georgia Gina Gloria Greta Gwen Harriet Hazel Heather Heidi Holly Ingrid Irene Isabel Isla Jackie Jade Jasmine Jean
Jenny Jessica Joan Joanna Josephine Joy Judith Judy Julie Juliet Kathleen Katie Kelly Kim Kitty Lana Leah Lena Leona
Lillian Lola Lorna Louise Lydia Mabel Madeline Maggie Mandy Marcia Margaret Maria Marilyn Marion Martha Matilda
Maureen Megan Melanie Melissa Mia Mildred Millie Miranda Molly Monica Muriel Nadia Naomi Natalie Nell Nicole Nina Olga
Pamela Patricia Pauline Pearl Penny Phoebe Polly Priscilla Rachel Rebecca Regina Rita Roberta Rosa Rosalind Rosemary
Sabrina Sally Sandra Selma Sharon Sheila Shirley Sofia Sonia Stella Stephanie Sylvia Tamara Tanya Teresa Tessa Thelma
Tina Ursula Valerie Vanessa Vera Veronica Victoria Viola Violet Vivian Wanda Wendy Wilma Yvonne Zara Alma Anya Astrid
Dina Elsie Fatima Gillian Hilda Ines Imogen Jocelyn Leila Lucia Mona Opal Petra Rhoda Sasha Tilly Una Winifred Yasmin
Zelda Beryl Constance Dora Enid Hattie Ida Janet Lois Marjorie Myra Nadine Odette Peggy Ramona Rhonda Sadie Tabitha
Thea Trudy Vicky Willa
""".split()

# animal -> the sound it makes ("" for none); the three tables are the second level of the hierarchy
MAMMALS = {
    "dog": "woof", "cat": "meow", "cow": "moo", "horse": "neigh", "pig": "oink", "goat": "bleat", "lion": "roar",
    "tiger": "growl", "bear": "grunt", "wolf": "howl", "fox": "yelp", "rabbit": "", "mouse": "squeak", "rat": "",
    "elephant": "", "giraffe": "", "zebra": "", "monkey": "chatter", "donkey": "bray", "camel": "",
    "hippo": "", "rhino": "", "squirrel": "", "hedgehog": "", "badger": "", "otter": "", "beaver": "", "bat": "",
    "kangaroo": "", "koala": "", "panda": "", "leopard": "", "cheetah": "", "llama": "", "hamster": "", "mole": "",
    "skunk": "", "raccoon": "", "buffalo": "", "walrus": "", "whale": "", "dolphin": "click", "lamb": "baa",
    "puppy": "yip", "kitten": "mew", "bull": "snort",
}
BIRDS = {
    "robin": "chirp", "sparrow": "chirp", "eagle": "screech", "owl": "hoot", "crow": "caw", "duck": "quack",
    "goose": "honk", "swan": "", "parrot": "squawk", "pigeon": "coo", "hen": "cluck", "penguin": "", "ostrich": "",
    "peacock": "", "flamingo": "", "hawk": "", "falcon": "", "raven": "croak", "magpie": "", "gull": "", "heron": "",
    "stork": "", "pelican": "", "finch": "", "wren": "", "dove": "coo", "canary": "tweet", "woodpecker": "",
    "kingfisher": "", "blackbird": "", "starling": "", "cuckoo": "", "vulture": "", "puffin": "",
}
FISH = (
    "salmon trout cod tuna shark carp pike perch herring sardine eel goldfish catfish mackerel haddock minnow "
    "halibut anchovy swordfish piranha guppy stingray"
).split()
"""Fish have no plural form here (English uses the singular), so they only appear in the singular."""

FRUITS = (
    "apple banana grape lemon mango melon pear plum peach cherry strawberry raspberry blueberry apricot kiwi lime "
    "pineapple coconut papaya fig tangerine grapefruit watermelon nectarine pomegranate guava lychee quince "
    "cranberry blackberry avocado currant"
).split()
VEGETABLES = (
    "carrot potato tomato onion cabbage lettuce pea bean cucumber pepper turnip radish leek beet parsnip pumpkin "
    "zucchini eggplant mushroom artichoke sprout yam shallot gourd chili"
).split()
DISHES = (
    "soup stew pie pizza salad sandwich curry omelette burger taco pancake waffle muffin cookie cake biscuit "
    "dumpling pudding sausage tart crepe burrito quiche kebab pretzel bagel croissant doughnut scone brownie"
).split()

INDOOR_PLACES = (
    "kitchen library office museum hospital bakery cinema theatre gym cafe restaurant store bank hotel church "
    "classroom hall attic basement cellar bedroom bathroom garage studio workshop factory warehouse lobby pharmacy "
    "laboratory gallery salon bookshop canteen ballroom"
).split()
OUTDOOR_PLACES = (
    "park garden beach market farm river forest lake bridge mountain valley island meadow field harbour playground "
    "orchard vineyard desert jungle swamp cliff canyon hill pond shore yard street road glacier waterfall volcano "
    "prairie dune zoo"
).split()

COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "grey", "gold",
           "silver", "violet")
MATERIALS = ("wood", "metal", "glass", "paper", "cloth", "stone", "plastic", "leather", "wool", "clay", "rubber",
             "silk", "wax", "straw")
SIZES = ("small", "medium", "large")
SIZE_WORDS = {"tiny": "small", "small": "small", "little": "small", "big": "large", "large": "large",
              "huge": "large"}
"""Size adjectives and the size class each names (objects carry their own class)."""

# object: colour material size
OBJECTS = """
ball red rubber small | cup white clay small | hat black cloth small | box brown wood medium | book blue paper small
pen black plastic small | key gold metal small | lamp yellow glass medium | chair brown wood medium
bag green leather medium | coin gold metal small | ring silver metal small | kite red paper medium
bottle green glass small | clock white metal medium | drum red wood medium | bell silver metal small
map yellow paper small | shoe black leather small | scarf purple wool small | boat blue wood large
candle white wax small | basket brown straw medium | flag red cloth medium | mirror silver glass medium
brush pink plastic small | plate white clay small | rope brown straw medium | toy orange plastic small
letter white paper small | blanket blue wool large | ladder grey metal large | necklace gold metal small
umbrella black cloth medium | pillow pink cloth medium | vase blue glass medium | table brown wood large
sofa green cloth large | bed white wood large | desk brown wood large | door brown wood large
window white glass large | fence white wood large | cart brown wood large | piano black wood large
wardrobe brown wood large | bench green wood large | statue grey stone large | fountain grey stone large
tent green cloth large | car red metal large | bicycle blue metal large | truck white metal large
barrel brown wood large | crate brown wood medium | jar white glass small | bowl white clay small
spoon silver metal small | fork silver metal small | knife silver metal small | teapot white clay medium
kettle silver metal medium | pan black metal medium | pot black metal medium | bucket grey metal medium
hammer grey metal small | shovel grey metal medium | axe grey metal medium | needle silver metal small
button black plastic small | glove brown leather small | sock white wool small | sweater green wool medium
jacket black leather medium | coat brown wool medium | dress pink silk medium | shirt white cloth medium
belt brown leather small | wallet black leather small | purse red leather small | boot brown leather medium
sandal brown leather small | helmet black plastic medium | mask white plastic small | crown gold metal small
sword silver metal medium | shield grey metal medium | trophy gold metal medium | medal gold metal small
whistle silver metal small | flute silver metal medium | violin brown wood medium | guitar brown wood medium
trumpet gold metal medium | camera black plastic small | phone black plastic small | radio black plastic medium
computer grey plastic medium | pencil yellow wood small | notebook blue paper small | envelope white paper small
card white paper small | ticket yellow paper small | stamp red paper small | ribbon red silk small
pebble grey stone small | brick red clay small | tile white clay small | bead blue glass small
carpet red wool large | rug purple wool large | towel white cloth medium | balloon red rubber small
tyre black rubber medium | hose green rubber large | comb black plastic small | bracelet silver metal small
puppet red cloth small | doll pink cloth small | robot grey metal medium | lantern yellow metal medium
torch black metal small | compass silver metal small | telescope black metal medium | globe blue plastic medium
tray silver metal medium | cushion red cloth medium | stool brown wood medium | shelf brown wood large
cabinet brown wood large | ship grey metal large | sledge brown wood medium | canoe green wood large
"""

PLURALS = {
    "mouse": "mice", "wolf": "wolves", "goose": "geese", "shelf": "shelves", "knife": "knives", "leaf": "leaves",
    "man": "men", "woman": "women", "child": "children", "gentleman": "gentlemen", "wife": "wives",
    "tomato": "tomatoes", "potato": "potatoes", "mango": "mangoes", "buffalo": "buffaloes", "hero": "heroes",
    "volcano": "volcanoes",
}
"""Irregular plurals; every other noun follows `lexicon.plural`."""

# person noun -> gender ("" for either)
PERSONS = {
    "boy": "male", "girl": "female", "man": "male", "woman": "female", "king": "male", "queen": "female",
    "prince": "male", "princess": "female", "father": "male", "mother": "female", "brother": "male",
    "sister": "female", "uncle": "male", "aunt": "female", "son": "male", "daughter": "female", "grandpa": "male",
    "grandma": "female", "husband": "male", "wife": "female", "gentleman": "male", "lady": "female",
    "teacher": "", "doctor": "", "farmer": "", "baker": "", "child": "", "friend": "", "neighbour": "",
    "stranger": "", "visitor": "", "driver": "", "nurse": "", "pilot": "", "guard": "", "chef": "",
}

# lemma: third person singular, past; grouped by how the grammar uses them
VERBS = {
    "motion": """walk walks walked | run runs ran | go goes went | come comes came | drive drives drove
        | ride rides rode | hurry hurries hurried | travel travels travelled | wander wanders wandered
        | return returns returned | march marches marched | stroll strolls strolled | rush rushes rushed
        | swim swims swam | fly flies flew | sail sails sailed | jog jogs jogged | climb climbs climbed""",
    "activity": """sleep sleeps slept | laugh laughs laughed | sing sings sang | dance dances danced
        | smile smiles smiled | cry cries cried | wait waits waited | rest rests rested | play plays played
        | work works worked | talk talks talked | sit sits sat | stand stands stood | jump jumps jumped
        | study studies studied | dream dreams dreamed | wave waves waved | nod nods nodded
        | listen listens listened | arrive arrives arrived | stay stays stayed | shiver shivers shivered
        | relax relaxes relaxed""",
    "transitive": """see sees saw | find finds found | like likes liked | take takes took | wash washes washed
        | carry carries carried | drop drops dropped | lose loses lost | hide hides hid | open opens opened
        | close closes closed | clean cleans cleaned | fix fixes fixed | buy buys bought | hold holds held
        | keep keeps kept | move moves moved | pick picks picked | want wants wanted | need needs needed
        | love loves loved | hate hates hated | watch watches watched | hear hears heard | notice notices noticed
        | visit visits visited | draw draws drew | build builds built | break breaks broke | make makes made
        | eat eats ate | cook cooks cooked | bake bakes baked | grow grows grew | catch catches caught
        | chase chases chased | feed feeds fed | follow follows followed | meet meets met | help helps helped
        | call calls called | thank thanks thanked | greet greets greeted | admire admires admired
        | remember remembers remembered | forget forgets forgot | borrow borrows borrowed | fill fills filled
        | pack packs packed | polish polishes polished | paint paints painted | check checks checked
        | collect collects collected | choose chooses chose | win wins won | push pushes pushed
        | pull pulls pulled | kick kicks kicked | touch touches touched | count counts counted""",
    "transfer": """give gives gave | hand hands handed | pass passes passed | throw throws threw | send sends sent
        | bring brings brought | show shows showed | offer offers offered | lend lends lent | sell sells sold
        | toss tosses tossed | mail mails mailed | deliver delivers delivered | slide slides slid
        | explain explains explained | describe describes described | write writes wrote | tell tells told""",
    "speech": """say says said | ask asks asked | reply replies replied | whisper whispers whispered
        | shout shouts shouted | answer answers answered""",
    "control": """decide decides decided | try tries tried | begin begins began | plan plans planned
        | hope hopes hoped | promise promises promised""",
    "aux": "are is was | have has had | do does did",
}
EXTRA_VERB_FORMS = {"were": ("be", "past"), "am": ("be", "base")}
""""were": the plural past of be, "am" its first person (the lemma's three forms are are / is / was)."""

ADJECTIVES = """
happy sad old new quiet loud bright dark warm cold soft hard fast slow kind brave clever funny shiny dusty heavy light
lovely pretty ugly strange calm busy lazy proud shy rich poor young tired hungry thirsty angry friendly gentle wild
tame noisy dirty wet dry empty full sharp smooth rough sweet sour bitter fresh ripe famous curious careful sleepy
cheerful grumpy silly wise fierce fancy plain simple rare sturdy fragile broken ancient modern cosy sunny rainy windy
cloudy cool hot frozen lucky nervous polite rude honest loyal eager bold neat messy tidy tall short long round
""".split()
ADVERBS = """
quickly slowly quietly loudly happily sadly carefully gently suddenly finally softly eagerly proudly calmly angrily
bravely politely kindly warmly patiently nervously cheerfully lazily gladly silently boldly swiftly rarely often soon
again together away early late yesterday today tomorrow also just still always never sometimes nearby
""".split()
OPENERS = ("Yesterday", "Today", "Tomorrow", "Later", "Then", "Soon", "Meanwhile", "Afterwards", "Finally",
           "Suddenly", "Earlier", "Once", "Next", "Sometimes")
"""Capitalised adverbs that open a sentence."""
TIMES = ("morning afternoon evening night day week weekend month year winter summer autumn spring holiday noon "
         "Monday Tuesday Wednesday Thursday Friday Saturday Sunday").split()
NUMBERS = ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
           "seventeen eighteen nineteen twenty").split()
CLASS_WORDS = {"animal": "", "mammal": "mammal", "bird": "bird", "fish": "fish", "food": "", "fruit": "fruit",
               "vegetable": "vegetable", "dish": "dish", "place": "", "indoor": "indoor", "outdoor": "outdoor",
               "thing": ""}
"""Words naming a level of the hierarchy, with the second-level class they name ("" for a top level)."""
PRONOUNS = {
    "he": "male", "him": "male", "his": "male", "himself": "male", "He": "male", "His": "male",
    "she": "female", "her": "female", "hers": "female", "herself": "female", "She": "female", "Her": "female",
    "it": "", "its": "", "they": "", "them": "", "their": "", "I": "", "me": "", "my": "", "we": "", "us": "",
    "our": "", "you": "", "your": "", "It": "", "They": "", "We": "", "You": "", "My": "", "Our": "", "Your": "",
    "Their": "",
}
FUNCTION_WORDS = """
the a an and or but so because when while after before although since until if that which who where to at in on of
with for from by near under over behind beside between into onto through across around about against along among
without during inside outside up down out off back home there here this these those some many all each every another
any several few more very too not no would could will can should must everyone nobody
""".split()
CAPITALISED = ("The", "A", "An", "When", "While", "After", "Before", "Although", "Because", "Since", "If", "Until",
               "At", "In", "On", "By", "Near", "Inside", "Outside", "There", "Here", "This", "These", "So", "But",
               "And", "Every", "Each", "Some", "Many", "All", "Both", "Nobody", "Everyone", "Yes", "No", "What",
               "Where", "Who", "Do", "Does", "Did", "How", "Why", "Now")
PUNCTUATION = (".", ",", ":", ";", "!", "?", '"')
