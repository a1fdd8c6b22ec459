"""Ready-made NPS, CSAT and CES surveys (wording from DOMAIN.md), each with a follow-up comment."""

COMMENT = {
    "kind": "text",
    "required": False,
    "text": {
        "en": "What is the main reason for your score?",
        "ru": "Почему вы поставили именно такую оценку?",
    },
}

TEMPLATES = {
    "nps": {
        "description": "Net Promoter Score: long-term loyalty. 9-10 promoters, 7-8 passives, 0-6 detractors.",
        "questions": [
            {
                "kind": "nps",
                "text": {
                    "en": "How likely are you to recommend us to a friend or colleague?",
                    "ru": "Насколько вероятно, что вы порекомендуете нас другу или коллеге?",
                },
                "low_label": {"en": "Not at all likely", "ru": "Совсем маловероятно"},
                "high_label": {"en": "Extremely likely", "ru": "Очень вероятно"},
            },
            COMMENT,
        ],
    },
    "csat": {
        "description": "Customer satisfaction with one interaction, here and now. CSAT = share of 4s and 5s.",
        "questions": [
            {
                "kind": "csat",
                "text": {
                    "en": "How would you rate your experience with us?",
                    "ru": "Как вы оцениваете ваш опыт взаимодействия с нами?",
                },
                "low_label": {"en": "Very unsatisfied", "ru": "Совсем не доволен"},
                "high_label": {"en": "Very satisfied", "ru": "Очень доволен"},
            },
            COMMENT,
        ],
    },
    "ces": {
        "description": "Customer Effort Score on a 1-5 effort scale: lower is better.",
        "questions": [
            {
                "kind": "ces",
                "scale_min": 1,
                "scale_max": 5,
                "scale_direction": "lower_is_better",
                "text": {
                    "en": "How much effort did it take to get your task done?",
                    "ru": "Сколько усилий вам потребовалось, чтобы решить свой вопрос?",
                },
                "low_label": {"en": "Very easy", "ru": "Очень легко"},
                "high_label": {"en": "Very difficult", "ru": "Очень сложно"},
            },
            COMMENT,
        ],
    },
}
