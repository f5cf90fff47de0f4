"""Training phrase table, C5-C6: per policy, ten contrasting pairs
(harmful_title, harmful_desc, benign_title, benign_desc)."""

from __future__ import annotations

PAIRS: dict[str, list[tuple[str, str, str, str]]] = {
    "c5.drugs": [
        (
            "Pills for sale, discreet shipping",
            "Oxy, xanax and molly in stock, message me for prices.",
            "Addiction treatment documentary",
            "Inside a rehab clinic helping people quit opioids.",
        ),
        (
            "Weed delivery tonight",
            "Top shelf bud, cash only, DM for the menu and drop location.",
            "Cannabis law explained",
            "A lawyer explains where cannabis is legal and where it is not.",
        ),
        (
            "Buy coke in the city",
            "Pure cocaine, fast delivery, text this number.",
            "Harm reduction at festivals",
            "Volunteers explain drug checking and staying safe.",
        ),
        (
            "Cook meth at home",
            "Step by step recipe with the chemicals you need from the pharmacy.",
            "The science of addiction",
            "A neuroscientist explains how meth changes the brain.",
        ),
        (
            "Get high on cough syrup",
            "Mix it with sprite, best cheap high, here is how much.",
            "Prescription drug safety",
            "A pharmacist explains why you should never mix medicines.",
        ),
        (
            "Dark web vendor list",
            "Best shops for MDMA and LSD, use this code for a discount.",
            "Police bust a drug ring",
            "A news report on the arrest of an online drug network.",
        ),
        (
            "Adderall without prescription",
            "Study pills shipped overnight, no doctor needed.",
            "ADHD medication explained",
            "A doctor explains how ADHD treatment is prescribed safely.",
        ),
        (
            "Magic mushrooms shop",
            "Shrooms and microdose packs, pay in crypto, ships worldwide.",
            "Recovery meeting near you",
            "How a twelve step group helped me stay clean for a year.",
        ),
        (
            "Selling fentanyl patches",
            "Cheap patches, bulk discount, message on the app.",
            "Naloxone training",
            "How to use naloxone to reverse an overdose while waiting for help.",
        ),
        (
            "Party pack deals",
            "Ketamine and pills bundle for the weekend, pick up today.",
            "Talking to teens about drugs",
            "A parent guide with honest facts about drugs and peer pressure.",
        ),
    ],
    "c5.weapons": [
        (
            "How to build a pipe bomb",
            "Step by step guide with materials from the hardware store.",
            "Bomb disposal team at work",
            "A documentary on the soldiers who make old munitions safe.",
        ),
        (
            "Untraceable guns for sale",
            "No background check, no serial numbers, cash on pickup.",
            "Gun safety course",
            "A licensed range teaches safe handling and storage.",
        ),
        (
            "3D print a working pistol",
            "Files and instructions to print a gun that passes scanners.",
            "Museum of military history",
            "A tour of historic rifles behind glass with a curator.",
        ),
        (
            "Make napalm at home",
            "Mix these two household items to make a fire weapon.",
            "Fire safety at home",
            "A firefighter explains smoke alarms and escape plans.",
        ),
        (
            "Selling grenades",
            "Live grenades and ammo, shipping hidden in parcels.",
            "Hunting season safety",
            "How licensed hunters wear orange and check their target.",
        ),
        (
            "Convert to full auto",
            "Simple trick to turn your rifle automatic, illegal but easy.",
            "Sport shooting championship",
            "Olympic style target shooting finals, great accuracy.",
        ),
        (
            "Homemade explosives tutorial",
            "Recipe for a powerful charge using fertiliser.",
            "Chemistry lab safety",
            "A teacher shows why some chemicals must never be mixed.",
        ),
        (
            "Buy a gun, no questions",
            "Felons welcome, I sell handguns out of my van.",
            "How gun licensing works",
            "An officer explains background checks and permits.",
        ),
        (
            "Knife for stabbing, sale",
            "Illegal switchblades and knuckle dusters, private sale.",
            "Chef knife sharpening",
            "How to sharpen a kitchen knife safely on a whetstone.",
        ),
        (
            "Silencer build guide",
            "Make a suppressor from a solvent trap, parts list inside.",
            "Weapon amnesty announced",
            "Police invite people to hand in unwanted firearms safely.",
        ),
    ],
    "c6.hate": [
        (
            "They are vermin",
            "That religion breeds rats, drive them all out of our country.",
            "Civil rights history lesson",
            "How the movement fought segregation and won equal rights.",
        ),
        (
            "No gays allowed",
            "Gay people are diseased freaks and should be banned from our town.",
            "Pride month community event",
            "Local groups celebrate with a picnic and talks about acceptance.",
        ),
        (
            "Ban those immigrants",
            "Their race is a plague of criminals, keep them out forever.",
            "Refugee support volunteers",
            "Volunteers welcome new families and help them settle in.",
        ),
        (
            "Women are too stupid to vote",
            "Females are inferior animals, take away their rights.",
            "History of women's suffrage",
            "How women won the right to vote after decades of campaigning.",
        ),
        (
            "Disabled people are a burden",
            "Cripples should be locked away, they drain society.",
            "Accessible design for everyone",
            "An architect explains ramps, lifts and inclusive spaces.",
        ),
        (
            "Segregate the schools again",
            "Keep their kind away from our children, separate classes by race.",
            "Teaching about racism",
            "A teacher explains how she discusses discrimination in class.",
        ),
        (
            "That group are subhuman",
            "They are not people, they are cockroaches, wipe them out.",
            "Counter speech campaign",
            "Young people answer online hate with facts and kindness.",
        ),
        (
            "Trans people are mentally ill freaks",
            "Mock them, shame them, they do not deserve respect.",
            "Trans health care explained",
            "A doctor answers common questions about gender care.",
        ),
        (
            "Go back where you came from",
            "Every one of those foreigners is filth, chase them off our street.",
            "Report on hate crimes",
            "Police figures show a rise in hate crimes and how to report them.",
        ),
        (
            "Jews control everything",
            "A dirty race of liars, do not let them in your business.",
            "Holocaust remembrance day",
            "Survivors' stories and why we must never forget.",
        ),
    ],
    "c6.extremism": [
        (
            "Join the movement, take up arms",
            "Our martyrs showed the way, brothers, sign up and fight.",
            "How extremists recruit online",
            "A researcher analyses the tactics used to lure young people.",
        ),
        (
            "Glory to the attacker",
            "He is a hero, the shooting was justified, follow his example.",
            "Deradicalisation programme",
            "Former members explain how they left a violent group.",
        ),
        (
            "Read our manifesto",
            "The race war is coming, download the manifesto and prepare.",
            "Terrorism trial coverage",
            "Reporters summarise the evidence in the court case.",
        ),
        (
            "Recruiting fighters abroad",
            "Travel to the front and join our army, we pay for your ticket.",
            "Counter-terror police advice",
            "How to report concerns about someone being radicalised.",
        ),
        (
            "Victory to the caliphate",
            "Pledge allegiance and wage jihad against the unbelievers.",
            "History of a terrorist group",
            "A documentary on how the group rose and was defeated.",
        ),
        (
            "Train for the uprising",
            "Militia camp this weekend, bring rifles, we strike soon.",
            "Understanding militias",
            "A journalist investigates armed groups and their risks.",
        ),
        (
            "Celebrate the bombing anniversary",
            "Remember our brave soldiers who struck the city, do it again.",
            "Memorial for bombing victims",
            "The city marks ten years since the attack with a minute of silence.",
        ),
        (
            "Become a soldier of the cause",
            "Your blood will bring the new order, join today.",
            "Preventing radicalisation in schools",
            "Teachers learn to spot warning signs and offer support.",
        ),
        (
            "Share this propaganda video",
            "Spread our message, the attack was just the beginning.",
            "Platform removes terrorist content",
            "A report on how sites take down extremist videos.",
        ),
        (
            "Heil the leader, purge the traitors",
            "Our nation rises again, armed struggle is the only way.",
            "Lessons from history on fascism",
            "A historian explains how democracies fell and recovered.",
        ),
    ],
}
